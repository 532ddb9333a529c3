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
import { isFormRequest, readForm, readJson, validate } from "./body";

const CONTRACT = Symbol("turkey.contract");

/** Response headers the document knows; their schemas live with the generator. */
export type HeaderName =
  | "noStore"
  | "publicCache"
  | "rateLimit"
  | "contentSecurityPolicy"
  | "contentDisposition";

/**
 * `appId`: the X-App-Id header. `bearer`: an access token in Authorization. `appKey` and
 * `appKeyBasic`: an app key, as a bearer token or HTTP Basic (app id : key).
 */
export type SchemeName = "appId" | "bearer" | "appKey" | "appKeyBasic";

/**
 * What a declaration requires: one scheme, `appKey` (an app key either way, which also names
 * the app), or `appKeyOrAppId` (either an app key, or only X-App-Id).
 */
export type Security = "appId" | "bearer" | "appKey" | "appKeyOrAppId";

/** What a middleware contributes to every route it runs on. */
export interface Facts {
  /** Error codes it can answer with. */
  errors?: readonly ErrorCode[];
  /** Codes only a request that carries a body can cause (never on GET). */
  bodyErrors?: readonly ErrorCode[];
  security?: Security;
  /** Headers it sets on every answer. */
  headers?: readonly HeaderName[];
}

type Schema = z.ZodMiniType;

export interface Contract<
  B extends Schema | undefined,
  P extends Schema | undefined,
  Q extends Schema | undefined = undefined,
  F extends Schema | undefined = undefined,
> extends Facts {
  summary: string;
  description?: string;
  /** The JSON body, validated before the handler runs (`c.req.valid("json")`). */
  body?: B;
  /** The body may be left out; then it is not read. */
  bodyOptional?: boolean;
  /** Path parameters, validated before the handler runs (`c.req.valid("param")`). */
  params?: P;
  /** Query parameters, validated before the handler runs (`c.req.valid("query")`). */
  query?: Q;
  /**
   * An application/x-www-form-urlencoded body the route also takes (`c.req.valid("form")`),
   * as OAuth clients send it; a JSON body is then validated by `body`.
   */
  form?: F;
  /** Success answers: status → body schema, or null for an empty body. */
  responses: Record<number, Schema | null>;
  /** Media type of the success bodies; JSON unless given. */
  mediaType?: string;
  /** A streamed alternative of the first success answer (asked for with Accept): one item per line. */
  stream?: { mediaType: string; item: Schema };
}

export type AnyContract = Contract<
  Schema | undefined,
  Schema | undefined,
  Schema | undefined,
  Schema | undefined
>;

type BodyInput<B> = B extends Schema ? { in: { json: z.input<B> }; out: { json: z.output<B> } } : object;
type ParamInput<P> = P extends Schema ? { in: { param: z.input<P> }; out: { param: z.output<P> } } : object;
type QueryInput<Q> = Q extends Schema ? { in: { query: z.input<Q> }; out: { query: z.output<Q> } } : object;
type FormInput<F> = F extends Schema ? { in: { form: z.input<F> }; out: { form: z.output<F> } } : object;
type Inputs<B, P, Q, F> = BodyInput<B> & ParamInput<P> & QueryInput<Q> & FormInput<F>;

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
export function endpoint<
  B extends Schema | undefined = undefined,
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  F extends Schema | undefined = undefined,
>(contract: Contract<B, P, Q, F>): MiddlewareHandler<AppEnv, string, Inputs<B, P, Q, F>> {
  const { body, params, query, form, bodyOptional } = contract;
  const errors: ErrorCode[] = [...(contract.errors ?? []), ...(body || form ? BODY_ERRORS : [])];
  if (params || query) errors.push("validation_failed");
  const middleware = createMiddleware<AppEnv, string, Inputs<B, P, Q, F>>(async (c, next) => {
    if (params) c.req.addValidatedData("param", validate(params, c.req.param()) as object);
    if (query) c.req.addValidatedData("query", validate(query, c.req.query()) as object);
    if (form && isFormRequest(c.req.raw)) {
      c.req.addValidatedData("form", (await readForm(c.req.raw, form)) as object);
    } else if (body && (!bodyOptional || c.req.header("content-type"))) {
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
