/**
 * SQL round trips per call, counted at the driver. Counts are deterministic, so these are
 * exact assertions, not timings. The app registry and the signing keys are warm (cached in the
 * isolate for 30 s) as in steady state.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { client, createTestApp, PASSWORD, type Tokens, uniqueEmail } from "./support/fixtures";

const statements: string[] = [];
const app = createApp({ onQuery: (sql) => statements.push(sql) });
let appId: string;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  appId = await createTestApp("budget");
  api = client(app, appId);
  await api.post("/v1/auth/login", { email: uniqueEmail(), password: PASSWORD }); // warms the registry
  await api.register(); // …and the signing keys
});

async function count<T>(action: () => Promise<T>): Promise<{ result: T; queries: number }> {
  statements.length = 0;
  const result = await action();
  return { result, queries: statements.length };
}

describe("SQL round trips", () => {
  it("register: 1", async () => {
    const { queries } = await count(() => api.register());
    expect(queries).toBe(1);
  });

  it("login: 2 (read the user, then session + audit in one statement)", async () => {
    const email = uniqueEmail();
    await api.register(email);
    expect((await count(() => api.login(email))).queries).toBe(2);
  });

  it("failed login: 2 (read the user, write the audit row)", async () => {
    const { result, queries } = await count(() =>
      api.post("/v1/auth/login", { email: uniqueEmail(), password: "wrong password" }),
    );
    expect(result.status).toBe(401);
    expect(queries).toBe(2);
  });

  it("refresh: 1", async () => {
    const tokens = await api.register();
    const { result, queries } = await count(() =>
      api.post("/v1/auth/refresh", { refreshToken: tokens.refreshToken }),
    );
    expect(result.status).toBe(200);
    expect(queries).toBe(1);
  });

  it("me: 1 (the revocation check reads KV, not Postgres)", async () => {
    const tokens: Tokens = await api.register();
    const { result, queries } = await count(() => api.get("/v1/auth/me", tokens.accessToken));
    expect(result.status).toBe(200);
    expect(queries).toBe(1);
  });
});
