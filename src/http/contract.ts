/**
 * How routes and middleware declare their HTTP contract: what a route takes, what it answers,
 * which error codes it can produce, which headers and credentials are involved. One
 * declaration both validates the request and feeds the OpenAPI document, so the document can
 * never describe one schema while the handler checks another.
 *
 * The declarations are plain values kept on the handlers. The generator (src/http/openapi.ts)
 * reads them outside the Worker, so no JSON Schema conversion ships in the bundle.
 */
import type { MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import type * as z from "zod/mini";
import type { AppEnv } from "../context";
import type { ErrorCode } from "../errors";
import { readJson, validate } from "./body";

const CONTRACT = Symbol("turkey.contract");

/** Response headers the document knows; their schemas live with the generator. */
export type HeaderName =
  | "noStore"
  | "publicCache"
  | "rateLimit"
  | "contentSecurityPolicy"
  | "contentDisposition";

/** `appId`: the X-App-Id header. `bearer`: an access token in Authorization. */
export type SchemeName = "appId" | "bearer";

/** What a middleware contributes to every route it runs on. */
export interface Facts {
  /** Error codes it can answer with. */
  errors?: readonly ErrorCode[];
  /** Codes only a request that carries a body can cause (never on GET). */
  bodyErrors?: readonly ErrorCode[];
  security?: SchemeName;
  /** Headers it sets on every answer. */
  headers?: readonly HeaderName[];
}

type Schema = z.ZodMiniType;

export interface Contract<B extends Schema | undefined, P extends Schema | undefined> extends Facts {
  summary: string;
  description?: string;
  /** The JSON body, validated before the handler runs (`c.req.valid("json")`). */
  body?: B;
  /** The body may be left out; then it is not read. */
  bodyOptional?: boolean;
  /** Path parameters, validated before the handler runs (`c.req.valid("param")`). */
  params?: P;
  /** Success answers: status → body schema, or null for an empty body. */
  responses: Record<number, Schema | null>;
  /** Media type of the success bodies; JSON unless given. */
  mediaType?: string;
}

export type AnyContract = Contract<Schema | undefined, Schema | undefined>;

type BodyInput<B> = B extends Schema ? { in: { json: z.input<B> }; out: { json: z.output<B> } } : object;
type ParamInput<P> = P extends Schema ? { in: { param: z.input<P> }; out: { param: z.output<P> } } : object;

/** Parse errors a JSON body can cause before any rule of the route applies. */
const BODY_ERRORS = ["unsupported_media_type", "invalid_json", "validation_failed"] as const;

/**
 * The route's contract as its middleware: validates params and body (in that order, after
 * the middleware placed before it, e.g. rate limiting), then runs the handler.
 *
 * @example
 * .post("/login", rateLimited, endpoint({ summary: "Sign in", body: loginSchema,
 *   responses: { 200: tokens }, errors: ["invalid_credentials"] }), (c) => … c.req.valid("json") …)
 */
export function endpoint<B extends Schema | undefined = undefined, P extends Schema | undefined = undefined>(
  contract: Contract<B, P>,
): MiddlewareHandler<AppEnv, string, BodyInput<B> & ParamInput<P>> {
  const { body, params, bodyOptional } = contract;
  const errors: ErrorCode[] = [...(contract.errors ?? []), ...(body ? BODY_ERRORS : [])];
  if (params) errors.push("validation_failed");
  const middleware = createMiddleware<AppEnv, string, BodyInput<B> & ParamInput<P>>(async (c, next) => {
    if (params) c.req.addValidatedData("param", validate(params, c.req.param()) as object);
    if (body && (!bodyOptional || c.req.header("content-type"))) {
      c.req.addValidatedData("json", (await readJson(c.req.raw, body)) as object);
    }
    await next();
  });
  return attach(middleware, { ...contract, errors });
}

/** Attaches what a middleware contributes to the routes it runs on; returns it unchanged. */
export function documented<M extends MiddlewareHandler>(middleware: M, facts: Facts): M {
  return attach(middleware, facts);
}

function attach<M extends object>(target: M, facts: Facts | AnyContract): M {
  return Object.assign(target, { [CONTRACT]: facts });
}

/** The declaration on a handler: a contract for an endpoint, facts for a middleware. */
export function declarationOf(handler: unknown): Facts | AnyContract | undefined {
  if (typeof handler !== "function") return undefined;
  return (handler as { [CONTRACT]?: Facts | AnyContract })[CONTRACT];
}

export function isContract(declaration: Facts | AnyContract): declaration is AnyContract {
  return "responses" in declaration;
}
