/**
 * The counting run of `npm run bench`, inside workerd: each benchmarked operation goes once
 * through the real app, built with a query hook, with the REVOCATIONS namespace wrapped to
 * count reads. One warm-up call of the same kind comes first, so the isolate's caches (app
 * registry, known revocations) are as warm as they are under load. Figures leave through
 * task meta, which the JSON reporter writes out for bench/lib/counts.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { argon2MemoryBytes } from "../../src/auth/argon2";
import { client, createTestApp, PASSWORD, type Tokens, uniqueEmail } from "../../test/support/fixtures";
import { bindings, postJson, send } from "../../test/support/worker";
import type { CountedScenario, OperationCount, WasmReading } from "../lib/types";

declare module "vitest" {
  interface TaskMeta {
    count?: OperationCount;
    wasm?: WasmReading;
  }
}

const counters = { sql: 0, kvReads: 0 };
const app = createApp({ onQuery: () => counters.sql++ });
const revocations = countReads(bindings.REVOCATIONS);

let appId: string;
let email: string;
let scryptEmail: string;
// The bench's second Turkey: the same code with PASSWORD_HASH=scrypt.
const SCRYPT = { PASSWORD_HASH: "scrypt" };
let live: Tokens;
let revokedToken: string;
let refreshToken: string;

beforeAll(async () => {
  appId = await createTestApp("bench");
  const api = client(app, appId);
  email = uniqueEmail();
  live = await api.register(email);
  refreshToken = live.refreshToken;
  const doomed = await api.login(email);
  const logout = await api.post("/v1/auth/logout", {}, doomed.accessToken);
  expect(logout.status).toBe(204);
  revokedToken = doomed.accessToken;
  scryptEmail = uniqueEmail();
  expect((await call("/v1/auth/register", { email: scryptEmail, password: PASSWORD }, SCRYPT)).ok).toBe(true);
});

/** One request as the benchmark sends it, through the counting KV. */
function call(path: string, body?: unknown, token?: string | Record<string, string>): Promise<Response> {
  const headers: Record<string, string> = { "x-app-id": appId };
  if (typeof token === "string") headers.authorization = `Bearer ${token}`;
  const settings = typeof token === "object" ? token : {};
  const init = body === undefined ? { headers } : postJson(body, headers);
  return send(app, path, init, { REVOCATIONS: revocations, ...settings });
}

async function introspect(token: string, active: boolean): Promise<Response> {
  const response = await call("/v1/auth/introspect", { token });
  const body = (await response.clone().json()) as { active?: boolean };
  expect(body.active).toBe(active);
  return response;
}

const operations: Record<CountedScenario, () => Promise<Response>> = {
  health: () => call("/health"),
  "introspect-valid": () => introspect(live.accessToken, true),
  "introspect-revoked": () => introspect(revokedToken, false),
  me: () => call("/v1/auth/me", undefined, live.accessToken),
  refresh: async () => {
    // Each refresh spends its token, so the next one uses the successor, as a client would.
    const response = await call("/v1/auth/refresh", { refreshToken });
    if (response.ok) refreshToken = ((await response.clone().json()) as Tokens).refreshToken;
    return response;
  },
  login: () => call("/v1/auth/login", { email, password: PASSWORD }),
  register: () => call("/v1/auth/register", { email: uniqueEmail(), password: PASSWORD }),
  "login-scrypt": () => call("/v1/auth/login", { email: scryptEmail, password: PASSWORD }, SCRYPT),
  "register-scrypt": () => call("/v1/auth/register", { email: uniqueEmail(), password: PASSWORD }, SCRYPT),
};

describe("round trips per operation", () => {
  it.for(Object.keys(operations) as CountedScenario[])("%s", async (name, { task }) => {
    const operation = operations[name];
    expect((await operation()).ok).toBe(true);
    counters.sql = 0;
    counters.kvReads = 0;
    const response = await operation();
    expect(response.ok, `${name} answered ${response.status}`).toBe(true);
    task.meta.count = { name, sql: counters.sql, kvReads: counters.kvReads };
  });
});

describe("the Argon2 instance's memory", () => {
  it("stays one hash's worth during concurrent logins", async ({ task }) => {
    const logins = 10;
    const responses = await Promise.all(Array.from({ length: logins }, () => operations.login()));
    expect(responses.every((response) => response.ok)).toBe(true);
    task.meta.wasm = { logins, bytes: await argon2MemoryBytes() };
  });
});

/** The same namespace, with every read counted. */
function countReads(kv: KVNamespace): KVNamespace {
  const reads = new Set<PropertyKey>(["get", "getWithMetadata"]);
  return new Proxy(kv, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (reads.has(property)) counters.kvReads++;
        return Reflect.apply(value, target, args);
      };
    },
  });
}
