/** `gravy db health` on a seeded database, and on one that cannot be reached. */
import pg from "pg";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { collectHealth, type HealthReport } from "../src/cli/health";
import { openNodeDatabase } from "../src/db";
import { closedPort, gravy, gravyJson, MIGRATIONS, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const env = { DATABASE_URL: url, DB_POOL_MIN: "1", DB_POOL_MAX: "3" };

beforeAll(async () => {
  vi.spyOn(console, "log").mockImplementation(() => {});
  await query(
    url,
    `insert into revoked_jti (jti, app_id, expires_at) values
       ('a1', 'alpha', now() - interval '1 hour'), ('a2', 'alpha', now() - interval '1 minute'),
       ('a3', 'alpha', now() + interval '1 hour'), ('a4', 'alpha', now() + interval '2 hours'),
       ('a5', 'alpha', now() + interval '3 hours'), ('b1', 'beta', now() - interval '1 hour')`,
  );
});

describe("db health", () => {
  it("reports the guide's revoked_jti figures, in total and per app", async () => {
    const report = await gravyJson<HealthReport & { status: string }>(["db", "health"], env);
    expect(report.status).toBe("connected");
    expect(report.revokedJti).toEqual({
      total: 6,
      expired: 3,
      active: 3,
      byApp: [
        { appId: "alpha", total: 5, active: 3 },
        { appId: "beta", total: 1, active: 0 },
      ],
    });
  });

  it("reports server, pool, tables, connections, indexes and migrations", async () => {
    const report = await gravyJson<HealthReport>(["db", "health"], env);
    expect(report.server.versionNumber).toBeGreaterThanOrEqual(140_000);
    expect(report.server.version).toMatch(/^PostgreSQL \d+/);
    expect(report.pool).toMatchObject({ min: 1, max: 3, waiting: 0 });
    expect(report.pool.total).toBeGreaterThanOrEqual(1);
    expect(report.pool.total).toBeLessThanOrEqual(3);
    expect(report.tables.map((t) => t.table).sort()).toEqual([
      "apps",
      "audit",
      "email_tokens",
      "refresh_tokens",
      "revoked_jti",
      "users",
    ]);
    expect(report.tables.every((t) => t.bytes > 0)).toBe(true);
    expect(report.activeConnections).toBeGreaterThanOrEqual(1);
    expect(report.indexes.map((i) => i.index)).toEqual(
      expect.arrayContaining([
        "users_email_app_idx",
        "users_app_idx",
        "revoked_jti_app_idx",
        "revoked_jti_expires_idx",
      ]),
    );
    expect(report.migrations).toEqual({ applied: MIGRATIONS, pending: 0 });
    expect(report.slowQueries).toEqual([]);
  });

  it("shows when cleanup last ran", async () => {
    expect((await gravyJson<HealthReport>(["db", "health"], env)).lastCleanupAt).toBeNull();
    await gravy(["db", "cleanup"], env);
    const report = await gravyJson<HealthReport>(["db", "health"], env);
    expect(Date.now() - new Date(report.lastCleanupAt ?? 0).getTime()).toBeLessThan(60_000);
    expect(report.revokedJti).toMatchObject({ total: 3, expired: 0, active: 3 });
  });

  it("prints readable sections", async () => {
    const result = await gravy(["db", "health"], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("total 3, expired 0, active 3");
    expect(result.stdout).toMatch(/Pool:\s+min 1, max 3: \d open, \d idle, 0 waiting/);
    expect(result.stdout).toMatch(/Server:\s+PostgreSQL \d+/);
    expect(result.stdout).toContain("Queries running over 5 s\nnone");
  });

  it("lists queries that have been running too long", async () => {
    const sleeper = new pg.Client({ connectionString: url });
    sleeper.on("error", () => {});
    await sleeper.connect();
    const sleeping = sleeper.query("select pg_sleep(20)").catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const handle = openNodeDatabase(url, { min: 0, max: 2 });
    try {
      const report = await collectHealth(handle, { pool: { min: 0, max: 2 }, slowQuerySeconds: 0.5 });
      const slow = report.slowQueries.find((query) => query.query.includes("pg_sleep(20)"));
      expect(slow?.seconds).toBeGreaterThan(0.5);
      await handle.pool.query("select pg_cancel_backend($1)", [slow?.pid]);
    } finally {
      await handle.close();
      await sleeping;
      await sleeper.end();
    }
  });

  it("exits with 1 and one line when the database cannot be reached", async () => {
    const port = await closedPort();
    const result = await gravy(["db", "health"], {
      DATABASE_URL: `postgres://postgres:pw@127.0.0.1:${port}/turkey`,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      `Cannot reach the database at turkey on 127.0.0.1:${port} (connection refused)\n`,
    );
  });
});
