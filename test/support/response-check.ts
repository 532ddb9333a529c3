/**
 * Checks answers against the OpenAPI document: the status must be listed for the operation,
 * the body must match that status's schema (an error `code` must be one the operation lists
 * there), the listed headers must be present and valid, and the contract's headers
 * (Retry-After, RateLimit-*, Cache-Control, Content-Security-Policy) must not appear where the
 * document does not list them.
 *
 * It runs in Node, as a small HTTP service the test setup starts: the validators compile
 * schemas with `new Function`, which workerd refuses. `send()` (test/support/worker.ts) posts
 * every answer the worker tests receive to it.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { OpenAPIBackend, type Operation } from "openapi-backend";
import type { OpenAPIV3_1 } from "openapi-types";
import { readBody } from "./fake-mailgun";

export interface Exchange {
  method: string;
  /** Path and query, e.g. `/v1/auth/login`. */
  path: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

type Response = OpenAPIV3_1.ResponseObject;
type Header = OpenAPIV3_1.HeaderObject;

const WATCHED_HEADERS = [
  "retry-after",
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
  "cache-control",
  "content-security-policy",
];

export async function createResponseChecker(document: OpenAPIV3_1.Document) {
  const api = new OpenAPIBackend<OpenAPIV3_1.Document>({
    definition: structuredClone(document),
    // Skips openapi-backend's own check of the document, which knows OpenAPI 3.0 only; the
    // document is checked as 3.1 by test-node/openapi.test.ts.
    quick: true,
    // Hono does not treat /docs/ as /docs, so neither may the check.
    ignoreTrailingSlashes: false,
    customizeAjv: (ajv) => addFormats(ajv as never) as never,
  });
  await api.init();
  const anyError = compile(api.definition.components?.schemas?.Error);
  const statusOfCode = errorStatuses(document);

  return (exchange: Exchange): string[] => {
    // Preflights are the CORS layer's protocol, answered alike on every path.
    if (exchange.method === "OPTIONS") return [];
    const path = exchange.path.split("?")[0] ?? "/";
    const operation = api.router.matchOperation({ method: exchange.method, path, headers: {} });
    if (!operation) return checkUnlisted(exchange, anyError, statusOfCode);
    const response = operation.responses?.[String(exchange.status)] as Response | undefined;
    if (!response) return [`status ${exchange.status} is not listed${describeError(exchange)}`];
    return [
      ...checkBody(api, operation, exchange, response),
      ...checkHeaders(api, operation, exchange, response),
    ];
  };
}

/** Paths the document does not list may only answer with a known error at its status. */
function checkUnlisted(exchange: Exchange, anyError: ValidateFunction, statusOfCode: Map<string, number>) {
  const body = parseJson(exchange.body);
  if (!anyError(body))
    return [`unlisted path answered a body that is not an error: ${exchange.body.slice(0, 200)}`];
  const code = (body as { error: { code: string } }).error.code;
  const expected = statusOfCode.get(code);
  return expected === exchange.status ? [] : [`${code} came with status ${exchange.status}, not ${expected}`];
}

function checkBody(api: OpenAPIBackend, operation: Operation, exchange: Exchange, response: Response) {
  const types = Object.keys(response.content ?? {});
  if (types.length === 0) return exchange.body === "" ? [] : ["a body where the document lists none"];
  const type = exchange.headers["content-type"] ?? "";
  if (!types.some((listed) => type.startsWith(listed)))
    return [`content-type ${type}, listed: ${types.join(", ")}`];
  if (!type.startsWith("application/json")) return [];
  const result = api.validator.validateResponse(parseJson(exchange.body), operation, exchange.status);
  return (result.errors ?? []).map(
    (error) =>
      `body${error.instancePath} ${error.message} ${JSON.stringify(error.params)}${describeError(exchange)}`,
  );
}

function checkHeaders(api: OpenAPIBackend, operation: Operation, exchange: Exchange, response: Response) {
  const listed = Object.fromEntries(
    Object.entries(response.headers ?? {}).map(([name, header]) => [name.toLowerCase(), header as Header]),
  );
  const problems: string[] = [];
  for (const [name, header] of Object.entries(listed)) {
    if (header.required && exchange.headers[name] === undefined) problems.push(`header ${name} is missing`);
  }
  for (const name of WATCHED_HEADERS) {
    if (exchange.headers[name] !== undefined && !listed[name]) problems.push(`header ${name} is not listed`);
  }
  const result = api.validator.validateResponseHeaders(exchange.headers, operation, {
    statusCode: exchange.status,
  });
  for (const error of result.errors ?? []) problems.push(`header${error.instancePath} ${error.message}`);
  return problems;
}

function describeError(exchange: Exchange): string {
  const code = (parseJson(exchange.body) as { error?: { code?: string } } | undefined)?.error?.code;
  return code ? ` (error code ${code})` : "";
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function compile(schema: unknown): ValidateFunction {
  const ajv = new Ajv({ strict: false });
  addFormats(ajv);
  return ajv.compile(schema as object);
}

/** Each code's status, from the document's ErrorCode schema. */
function errorStatuses(document: OpenAPIV3_1.Document): Map<string, number> {
  const codes = document.components?.schemas?.ErrorCode as { oneOf: { const: string; "x-status": number }[] };
  return new Map(codes.oneOf.map((entry) => [entry.const, entry["x-status"]]));
}

/** The checker as a local HTTP service: POST an Exchange, get `{ problems }` back. */
export async function startResponseChecker(document: OpenAPIV3_1.Document) {
  const check = await createResponseChecker(document);
  const server = createServer((request, response) => {
    readBody(request)
      .then((text) => {
        const problems = check(JSON.parse(text) as Exchange);
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ problems }));
      })
      .catch((error: unknown) => {
        response.writeHead(500, { "content-type": "text/plain" }).end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
