/**
 * The OpenAPI 3.1 document of the app, generated from what its routes and middleware declare
 * (src/http/contract.ts). hono-openapi walks the route table, merges what each route's
 * middleware contributes, and converts the zod schemas with zod's own JSON Schema conversion;
 * this module turns the merged declarations into responses: one per status, whose error
 * `code` is the enum of the codes that route can answer with at that status, taken from the
 * one code table (src/errors.ts).
 *
 * Runs in Node (`npm run docs:api`, the tests), never in the Worker: the Worker serves the
 * generated file, so the generator costs the bundle nothing.
 */
import type { Hono } from "hono";
import { findTargetHandler } from "hono/utils/handler";
import { generateSpecs, resolver, uniqueSymbol } from "hono-openapi";
import type { OpenAPIV3_1 } from "openapi-types";
import * as z from "zod/mini";
import pkg from "../../package.json";
import type { AppEnv } from "../context";
import type { ErrorCode } from "../errors";
import { type AnyContract, declarationOf, type Facts, type HeaderName, isContract } from "./contract";
import { errorResponses, errorSchemas } from "./openapi-errors";
import { COMPONENT_HEADERS, DOCUMENT_HEADERS, SECURITY_SCHEMES, STATUS_TEXT } from "./openapi-parts";

type Document = OpenAPIV3_1.Document;
type Operation = OpenAPIV3_1.OperationObject<Merged>;
type ResponseObject = OpenAPIV3_1.ResponseObject;

/** What hono-openapi merges from a route's handlers: arrays add up along the chain. */
interface Merged {
  "x-errors"?: ErrorCode[];
  "x-body-errors"?: ErrorCode[];
  "x-security"?: string[];
  "x-headers"?: HeaderName[];
}

const INFO = {
  title: "Turkey",
  version: pkg.version,
  description:
    "One authentication server for many apps. Every /v1 call names its app in `X-App-Id`; access " +
    "tokens are JWTs whose audience is that app. Errors always have the body " +
    '`{"error": {"code", "message"}}`, and each response lists the codes it can carry.',
};

export async function buildOpenApiDocument(app: Hono<AppEnv>): Promise<Document> {
  describeHandlers(app);
  const generated = (await generateSpecs(app, {
    documentation: { info: INFO, tags: TAGS },
    excludeStaticFile: false,
  })) as Document;
  const paths: OpenAPIV3_1.PathsObject = {};
  for (const [path, item] of Object.entries(generated.paths ?? {})) {
    // hono-openapi's paths hold operations only.
    const operations = Object.entries(item ?? {}) as [string, Operation][];
    paths[path] = Object.fromEntries(operations.map(([method, op]) => [method, finishOperation(method, op)]));
  }
  return {
    openapi: "3.1.0",
    info: INFO,
    tags: TAGS,
    paths,
    components: {
      schemas: { ...generated.components?.schemas, ...errorSchemas() },
      headers: COMPONENT_HEADERS,
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

const TAGS = [
  { name: "auth", description: "Accounts, sessions and tokens. Every call names its app in X-App-Id." },
  { name: "admin", description: "For app backends: users and the audit of the app their key belongs to." },
  { name: "service", description: "Health, signing keys and this description." },
];

/**
 * Hands each declaration to hono-openapi in its own format. Every route must declare a
 * contract, so a new endpoint is in the document or the generation fails.
 */
function describeHandlers(app: Hono<AppEnv>): void {
  const declared = new Set<string>();
  for (const route of app.routes) {
    const handler = findTargetHandler(route.handler);
    const declaration = declarationOf(handler);
    if (!declaration) continue;
    const contract = isContract(declaration);
    if (contract) declared.add(`${route.method} ${route.path}`);
    const spec = contract ? operationSpec(declaration, route.method, route.path) : factsSpec(declaration);
    Object.assign(handler, { [uniqueSymbol]: { spec } });
  }
  const undeclared = app.routes
    .filter((route) => route.method !== "ALL" && !declared.has(`${route.method} ${route.path}`))
    .map((route) => `${route.method} ${route.path}`);
  if (undeclared.length > 0)
    throw new Error(`Routes without an endpoint() contract: ${undeclared.join(", ")}`);
}

function factsSpec(facts: Facts): Merged & { responses: object } {
  return {
    responses: {},
    "x-errors": [...(facts.errors ?? [])],
    "x-body-errors": [...(facts.bodyErrors ?? [])],
    "x-security": facts.security ? [facts.security] : [],
    "x-headers": [...(facts.headers ?? [])],
  };
}

function operationSpec(contract: AnyContract, method: string, path: string) {
  const responses = Object.entries(contract.responses).map(([status, schema], index) => {
    const stream = index === 0 && contract.stream;
    const response = {
      description: STATUS_TEXT[Number(status)] ?? status,
      headers: headersOf(contract.headers ?? []),
      // Answers are described as produced (zod "output"), request bodies as accepted.
      content: schema
        ? {
            [contract.mediaType ?? "application/json"]: {
              schema: resolver(schema, { options: { io: "output" } }),
            },
            ...(stream
              ? {
                  [stream.mediaType]: {
                    // One item per line; OpenAPI 3.1 has no schema for a sequence, so the line's.
                    schema: resolver(stream.item, { options: { io: "output" } }),
                  },
                }
              : {}),
          }
        : undefined,
    };
    return [status, response] as const;
  });
  const body = contract.body && { "application/json": { schema: resolver(contract.body) } };
  const form = contract.form && { "application/x-www-form-urlencoded": { schema: resolver(contract.form) } };
  const parameters = [
    ...(contract.params ? inputParameters(contract.params, "path") : []),
    ...(contract.query ? inputParameters(contract.query, "query") : []),
  ];
  // The contract's own headers are set by its handler, so they are on its success answers only.
  return {
    ...factsSpec({ ...contract, headers: [] }),
    operationId: operationIdOf(method, path),
    summary: contract.summary,
    description: contract.description,
    tags: [path.match(/^\/v1\/([^/]+)/)?.[1] ?? "service"],
    parameters: parameters.length > 0 ? parameters : undefined,
    requestBody: (body || form) && {
      required: !contract.bodyOptional,
      content: { ...body, ...form },
    },
    responses: Object.fromEntries(responses),
  };
}

/**
 * `DELETE /v1/auth/sessions/:id` → `deleteV1AuthSessionsById`. Set explicitly: when merging,
 * hono-openapi would let the id of an `app.use` layer replace the operation's own.
 */
function operationIdOf(method: string, path: string): string {
  const words = path.split(/[^A-Za-z0-9:]+/).filter(Boolean);
  const pascal = words.map((word) =>
    word.startsWith(":") ? `By${capitalise(word.slice(1))}` : capitalise(word),
  );
  return `${method.toLowerCase()}${pascal.join("")}`;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** Typed loosely: openapi-types gives 3.1 parameters a 3.0 schema type. */
function inputParameters(params: z.ZodMiniType, where: "path" | "query"): object[] {
  const { properties = {}, required = [] } = z.toJSONSchema(params, { io: "input" });
  return Object.entries(properties).map(([name, schema]) => ({
    name,
    in: where,
    required: where === "path" || required.includes(name),
    schema,
  }));
}

function headersOf(names: readonly HeaderName[]): Record<string, OpenAPIV3_1.ReferenceObject> {
  return Object.fromEntries(names.flatMap((name) => DOCUMENT_HEADERS[name]));
}

/** Turns the merged declarations of one operation into its error responses and security. */
function finishOperation(method: string, operation: Operation): OpenAPIV3_1.OperationObject {
  const {
    "x-errors": errors,
    "x-body-errors": bodyErrors,
    "x-security": security,
    "x-headers": headers,
    ...rest
  } = operation;
  // GET requests carry no body, so codes only a body can cause never apply to them.
  const codes = unique([...(errors ?? []), ...(method === "get" ? [] : (bodyErrors ?? []))]);
  const shared = headersOf(unique(headers ?? []));
  const responses: Record<string, ResponseObject> = {};
  for (const [status, response] of Object.entries(rest.responses ?? {})) {
    const answer = response as ResponseObject;
    responses[status] = { ...answer, headers: { ...shared, ...answer.headers } };
  }
  Object.assign(responses, errorResponses(codes, shared));
  const finished: OpenAPIV3_1.OperationObject = { ...rest, responses };
  const requirements = securityRequirements(unique(security ?? []));
  if (requirements.length > 0) finished.security = requirements;
  return finished;
}

/**
 * The alternatives of an operation's security. An app key names its app, so X-App-Id is not
 * required beside it; `appKeyOrAppId` (introspection) also takes X-App-Id alone, the legacy way.
 */
function securityRequirements(declared: string[]): OpenAPIV3_1.SecurityRequirementObject[] {
  const appKey: OpenAPIV3_1.SecurityRequirementObject[] = [{ appKey: [] }, { appKeyBasic: [] }];
  if (declared.includes("appKey")) return appKey;
  if (declared.includes("appKeyOrAppId")) return [{ appId: [] }, ...appKey];
  return declared.length > 0 ? [Object.fromEntries(declared.map((scheme) => [scheme, []]))] : [];
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
