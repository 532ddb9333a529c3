/** Helpers for tests running inside workerd: the bindings, a request helper, a DB handle. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Hono } from "hono";
import type { AppEnv, Bindings } from "../../src/context";
import { openWorkerDatabase } from "../../src/db";

export const bindings = env as unknown as Bindings;

/**
 * Sends one request through an app as the Worker would, waiting for its background work. The
 * answer must be one the OpenAPI document describes (test/support/response-check.ts), or the
 * test fails here.
 */
export async function send(
  app: Hono<AppEnv>,
  path: string,
  init: RequestInit = {},
  overrides: Partial<Bindings> = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const env = Object.keys(overrides).length > 0 ? { ...bindings, ...overrides } : bindings;
  const response = await app.request(path, init, env, ctx);
  await waitOnExecutionContext(ctx);
  // The bench's counting run borrows send() without the checker; test/openapi.test.ts fails
  // if the worker suites ever lose it.
  if (bindings.RESPONSE_CHECK_URL) {
    const url = new URL(path, "http://turkey.test");
    await checkAgainstDocument((init.method ?? "GET").toUpperCase(), url.pathname + url.search, response);
  }
  return response;
}

/**
 * Like send(), for an answer the Worker streams while its deferred work writes it: the body is
 * read first (waiting for the work before reading would never end), then checked.
 */
export async function sendStreamed(
  app: Hono<AppEnv>,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const streamed = await app.request(path, init, bindings, ctx);
  const body = await streamed.arrayBuffer();
  await waitOnExecutionContext(ctx);
  const response = new Response(body, { status: streamed.status, headers: streamed.headers });
  if (bindings.RESPONSE_CHECK_URL) {
    const url = new URL(path, "http://turkey.test");
    await checkAgainstDocument((init.method ?? "GET").toUpperCase(), url.pathname + url.search, response);
  }
  return response;
}

async function checkAgainstDocument(method: string, path: string, response: Response): Promise<void> {
  const exchange = {
    method,
    path,
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: new TextDecoder().decode(await response.clone().arrayBuffer()),
  };
  const answer = await fetch(String(bindings.RESPONSE_CHECK_URL), {
    method: "POST",
    body: JSON.stringify(exchange),
  });
  const { problems } = (await answer.json()) as { problems: string[] };
  if (problems.length > 0) {
    const list = problems.map((problem) => `  - ${problem}`).join("\n");
    throw new Error(
      `${exchange.method} ${exchange.path} → ${exchange.status} is not what the OpenAPI document describes:\n${list}\n` +
        "Fix the route, or its endpoint() contract and then `npm run docs:api`.",
    );
  }
}

export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

/** A direct database handle for arranging and inspecting rows. Close it after use. */
export function openTestDatabase() {
  return openWorkerDatabase(bindings);
}
