/**
 * Every hot statement goes through its index. The statements are the ones the app really
 * sends (captured with their parameters while it serves requests), planned with EXPLAIN over
 * tables holding tens of thousands of rows — and with sequential scans allowed, so the
 * planner chooses the index because it is the better plan, not because it is forced to.
 */
import { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scansOf, sequentialScansOfLargeTables } from "../bench/lib/plans";
import { createApp } from "../src/app";
import { sealAudit } from "../src/audit/seal";
import { DEFAULT_BATCH_SIZE, runCleanup } from "../src/cron/cleanup";
import { REPUBLISH_PER_TICK } from "../src/cron/index";
import { batchStatement, retentionRules } from "../src/cron/retention";
import { openWorkerDatabase } from "../src/db";
import { republishRevocations } from "../src/revocation";
import { client, createTestApp, PASSWORD } from "./support/fixtures";
import { serveSessionHotPaths } from "./support/hot-paths";
import { mailedToken } from "./support/sdk";
import { bindings } from "./support/worker";

interface Captured {
  sql: string;
  params: unknown[];
}

const captured: Captured[] = [];
const app = createApp({ onQuery: (sql, params) => captured.push({ sql, params }) });
let appId: string;
let connection: pg.Client;

beforeAll(async () => {
  appId = await createTestApp("plans");
  connection = new pg.Client({ connectionString: (bindings.HYPERDRIVE as Hyperdrive).connectionString });
  connection.on("error", () => {});
  await connection.connect();
  // Live rows only (nothing past retention), so the other suites sharing the database are unaffected.
  await connection.query(
    `insert into users (app_id, email, password_hash)
       select $1, 'plans-' || i || '@example.com', 'x' from generate_series(1, 20000) i;
     insert into refresh_tokens (app_id, user_id, session_id, token_hash, access_jti, access_expires_at,
       expires_at, session_created_at)
       select app_id, id, gen_random_uuid(), md5(random()::text), gen_random_uuid()::text,
         now() + interval '15 minutes', now() + interval '7 days', now()
       from users, generate_series(1, 2) where app_id = $1;
     insert into revoked_jti (jti, app_id, expires_at, published_to_kv)
       select 'plans-' || i, $1, now() + interval '1 hour', true from generate_series(1, 20000) i;
     insert into email_tokens (app_id, user_id, kind, token_hash, expires_at)
       select app_id, id, 'verify_email', md5(random()::text), now() + interval '1 day' from users where app_id = $1;
     insert into audit (app_id, event, details, created_at, chain_seq)
       select $1, 'plans_filler', '{}', now(), i from generate_series(1, 40000) i;
     analyze users, refresh_tokens, revoked_jti, email_tokens, audit, apps;`.replaceAll("$1", `'${appId}'`),
  );
  // Seeding 100k rows takes seconds of its own on a busy machine.
}, 120_000);

afterAll(async () => {
  await connection.end();
});

async function scansOfStatement(statement: Captured) {
  const result = await connection.query(`explain (format json) ${statement.sql}`, statement.params);
  return scansOf((result.rows[0] as { "QUERY PLAN": unknown })["QUERY PLAN"]);
}

/** Serves the hot paths once each, capturing every statement they send. */
async function serveHotPaths(): Promise<void> {
  const email = await serveSessionHotPaths(app, appId);
  const api = client(app, appId);
  await api.post("/v1/auth/forgot-password", { email });
  const reset = { token: await mailedToken(email, "reset-password"), password: PASSWORD };
  expect((await api.post("/v1/auth/reset-password", reset)).status).toBe(200);
  const handle = openWorkerDatabase(bindings, { onQuery: (sql, params) => captured.push({ sql, params }) });
  try {
    await sealAudit(handle.db, 10);
    await runCleanup(handle.db, { auditRetentionDays: 400, auditPiiDays: 30 });
    await republishRevocations(handle.db, bindings.REVOCATIONS, new Date(), REPUBLISH_PER_TICK);
  } finally {
    await handle.close();
  }
}

/** Statements that must use a named index (matched on their SQL text; `a|b`: either one). */
const INTENDED: [RegExp, string][] = [
  [/from users where email = .* and app_id =/s, "users_email_app_idx"],
  [/with owner as .*where r\.token_hash =/s, "refresh_tokens_hash_idx"],
  [/chain\.session_id = refresh_tokens\.session_id/s, "refresh_tokens_session_idx"],
  [/with ended as \(\s*update refresh_tokens set revoked_at/s, "refresh_tokens_user_app_idx"],
  [/select expires_at from revoked_jti where jti =/s, "revoked_jti_pkey"],
  [/delete from "revoked_jti" where ctid in/s, "revoked_jti_expires_idx"],
  [
    /delete from "refresh_tokens" where ctid in .*expires_at < now\(\) and \(\s*select max\(session\.expires_at\)/s,
    "refresh_tokens_expires_idx",
  ],
  [/delete from "refresh_tokens" where ctid in .*revoked_at < now\(\)/s, "refresh_tokens_revoked_idx"],
  [/delete from "email_tokens" where ctid in .*used_at is not null/s, "email_tokens_used_idx"],
  [/delete from "email_tokens" where ctid in .*expires_at < now\(\)/s, "email_tokens_expires_idx"],
  [
    /select distinct coalesce\(app_id, ''\) as chain from audit where chain_seq is null/s,
    "audit_unsealed_idx",
  ],
  // One chain's unsealed rows: the chain index (app, chain_seq is null) and the partial index of
  // unsealed rows serve it equally well; the planner picks one by statistics.
  [/where chain_seq is null and coalesce\(app_id, ''\) =/s, "audit_chain_idx|audit_unsealed_idx"],
  [/where published_to_kv = false and expires_at >/s, "revoked_jti_unpublished_idx"],
];

/**
 * The audit's retention runs inside SECURITY DEFINER functions (migration
 * 0004_keys_and_audit_chain), which EXPLAIN cannot see into: their statements, as written there.
 */
const INSIDE_FUNCTIONS: [string, string][] = [
  [
    "select ctid from audit where details ? 'email' and created_at < now() - 30 * interval '1 day' limit 5000 for update skip locked",
    "audit_pii_idx",
  ],
  [
    "select chain_seq, created_at < now() - interval '400 days' from audit where coalesce(app_id, '') = $1 and chain_seq > 0 order by chain_seq limit 5000",
    "audit_chain_idx",
  ],
  [
    "select ctid from audit where chain_seq is null and created_at < now() - interval '400 days' limit 5000 for update skip locked",
    "audit_unsealed_idx",
  ],
];

describe("query plans", () => {
  it("use an index for every hot statement, never a sequential scan of a large table", async () => {
    await serveHotPaths();
    const statements = captured.filter(
      (statement) => !/^(begin|commit|rollback)\b/i.test(statement.sql.trim()),
    );
    const unmatched = new Set(INTENDED.map(([, index]) => index));
    for (const statement of statements) {
      const scans = await scansOfStatement(statement);
      expect(sequentialScansOfLargeTables(scans), statement.sql).toEqual([]);
      for (const [pattern, index] of INTENDED) {
        if (!pattern.test(statement.sql)) continue;
        const used = scans.map((scan) => scan.index);
        expect(
          used.filter((name) => name !== undefined && index.split("|").includes(name)),
          `${statement.sql}\nused: ${used.join(", ")}`,
        ).not.toEqual([]);
        unmatched.delete(index);
      }
    }
    expect([...unmatched]).toEqual([]);
  });

  it("clear ended sessions by probing each through the session index while most rows have expired", async () => {
    const rule = retentionRules({ auditRetentionDays: 400, auditPiiDays: 30 }).find(
      (candidate) => candidate.key === "refreshTokensExpired",
    );
    if (!rule) throw new Error("no rule for expired refresh rows");
    const statement = new PgDialect().sqlToQuery(batchStatement(rule, DEFAULT_BATCH_SIZE));
    // Ended sessions, fewer than the live ones: the planner then expects nearly every expired
    // row to have a live sibling, as it does at millions of rows, and a NOT EXISTS written
    // here became a hash anti join over a sequential scan. Rolled back, statistics included,
    // so the suites sharing the database never see these rows.
    await connection.query("begin");
    try {
      await connection.query(
        `insert into refresh_tokens (app_id, user_id, session_id, token_hash, access_jti, access_expires_at,
           expires_at, session_created_at)
           select app_id, id, md5(id::text || 'ended')::uuid, md5(random()::text), gen_random_uuid()::text,
             now() - interval '8 days', now() - interval '1 day', now() - interval '8 days'
           from users, generate_series(1, 2) where app_id = $1;
         analyze refresh_tokens;`.replaceAll("$1", `'${appId}'`),
      );
      const scans = await scansOfStatement({ sql: statement.sql, params: statement.params });
      expect(sequentialScansOfLargeTables(scans)).toEqual([]);
      expect(scans.map((scan) => scan.index)).toContain("refresh_tokens_session_idx");
    } finally {
      await connection.query("rollback");
    }
  });

  it("take expired revocations oldest first through their index while most of them have expired", async () => {
    const rule = retentionRules({ auditRetentionDays: 400, auditPiiDays: 30 }).find(
      (candidate) => candidate.key === "revokedJti",
    );
    if (!rule) throw new Error("no rule for revocations");
    const statement = new PgDialect().sqlToQuery(batchStatement(rule, DEFAULT_BATCH_SIZE));
    // With many rows due, a bare LIMIT let the planner bet on a sequential scan finding them
    // early; rolled back, statistics included, as above.
    await connection.query("begin");
    try {
      await connection.query(
        `insert into revoked_jti (jti, app_id, expires_at, published_to_kv)
           select 'plans-expired-' || i, '${appId}', now() - interval '1 hour', true from generate_series(1, 60000) i;
         analyze revoked_jti;`,
      );
      const scans = await scansOfStatement({ sql: statement.sql, params: statement.params });
      expect(sequentialScansOfLargeTables(scans)).toEqual([]);
      expect(scans.map((scan) => scan.index)).toContain("revoked_jti_expires_idx");
    } finally {
      await connection.query("rollback");
    }
  });

  it.each(INSIDE_FUNCTIONS)("use an index inside the audit's functions: %s", async (statement, index) => {
    const params = statement.includes("$1") ? [appId] : [];
    const scans = await scansOfStatement({ sql: statement, params });
    expect(sequentialScansOfLargeTables(scans)).toEqual([]);
    expect(scans.map((scan) => scan.index)).toContain(index);
  });
});
