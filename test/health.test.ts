import { describe, expect, it } from "vitest";
import pkg from "../package.json";
import { createApp } from "../src/app";
import { formatUptime } from "../src/health";
import { manualClock } from "./support/fixtures";
import { send } from "./support/worker";

const app = createApp();

describe("GET /health", () => {
  it("reports a connected database", async () => {
    const response = await send(app, "/health");
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ status: "healthy", database: "connected", version: pkg.version });
    expect(typeof (body as { uptime: unknown }).uptime).toBe("string");
  });

  it("answers 503 when the database cannot be reached", async () => {
    const dead = { connectionString: "postgres://postgres:x@127.0.0.1:1/none" } as Hyperdrive;
    const response = await send(app, "/health", {}, { HYPERDRIVE: dead });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: "unhealthy", database: "disconnected" });
  });

  it("checks the database through the Neon driver when there is no Hyperdrive", async () => {
    const response = await send(
      app,
      "/health",
      {},
      {
        HYPERDRIVE: undefined,
        DATABASE_URL: String((await import("./support/worker")).bindings.TEST_DATABASE_URL),
      },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ database: "connected" });
  });
});

describe("unauthenticated load on Postgres", () => {
  it("caches /health's database result in the isolate for a few seconds", async () => {
    const statements: string[] = [];
    // A year ahead, so whatever an earlier test cached has expired.
    const clock = manualClock(new Date(Date.now() + 365 * 86_400_000));
    const counted = createApp({ onQuery: (sql) => statements.push(sql), clock: clock.now });
    for (let i = 0; i < 5; i++) expect((await send(counted, "/health")).status).toBe(200);
    expect(statements).toHaveLength(1);
    clock.advance(10);
    expect((await send(counted, "/health")).status).toBe(200);
    expect(statements).toHaveLength(2);
  });
});

describe("formatUptime", () => {
  it.each([
    [5, "5s"],
    [125, "2m"],
    [3 * 3600 + 60, "3h 1m"],
    [5 * 86_400 + 12 * 3600 + 34 * 60 + 9, "5d 12h 34m"],
  ])("%i seconds is %s", (seconds, text) => {
    expect(formatUptime(seconds)).toBe(text);
  });
});

describe("an unreachable database", () => {
  it("answers requests that need it with 503 database_unavailable, not a 500", async () => {
    const dead = { connectionString: "postgres://postgres:x@127.0.0.1:1/none" } as Hyperdrive;
    const { forgetApps } = await import("../src/apps/registry");
    forgetApps();
    const response = await send(
      app,
      "/v1/auth/login",
      {
        method: "POST",
        headers: { "content-type": "application/json", "x-app-id": "any-app" },
        body: JSON.stringify({ email: "a@example.com", password: "some password" }),
      },
      { HYPERDRIVE: dead },
    );
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("database_unavailable");
  });
});
