/** Helpers for tests running inside workerd: the bindings, a request helper, a DB handle. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Hono } from "hono";
import type { AppEnv, Bindings } from "../../src/context";
import { openWorkerDatabase } from "../../src/db";

export const bindings = env as unknown as Bindings;

/** Sends one request through an app as the Worker would, waiting for its background work. */
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
  return response;
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
