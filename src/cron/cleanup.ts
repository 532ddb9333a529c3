/**
 * Cleanup of rows that no longer protect anything, shared by the Cron Trigger and
 * `gravy db cleanup`. Deletes in bounded batches (`LIMIT … FOR UPDATE SKIP LOCKED`) so a
 * table of millions never holds long locks or exceeds a Worker's limits in one statement.
 * Expiry is judged by the database's clock, never the caller's: a CLI on a laptop with a
 * wrong clock must not delete a revocation that still protects a live token.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db";
import { audit } from "../db/schema";
import { log } from "../log";

export const CLEANUP_EVENT = "cleanup_completed";
/** Revoked refresh tokens are kept this long for reuse detection and forensics. */
const REVOKED_REFRESH_RETENTION = sql`interval '24 hours'`;

export interface CleanupOptions {
  batchSize?: number;
  /** Stop starting new batches after this many, so one run stays within its CPU budget. */
  maxBatchesPerTable?: number;
}

export interface CleanupCounts {
  revokedJti: number;
  refreshTokens: number;
  emailTokens: number;
}

export interface CleanupResult {
  counts: CleanupCounts;
  durationMs: number;
  /** True when a table still had expired rows after the batch budget ran out. */
  incomplete: boolean;
}

export async function runCleanup(db: Database, options: CleanupOptions = {}): Promise<CleanupResult> {
  const started = Date.now();
  const batchSize = options.batchSize ?? 5000;
  const maxBatches = options.maxBatchesPerTable ?? 200;

  const jti = await deleteInBatches(db, "revoked_jti", sql`expires_at < now()`, batchSize, maxBatches);
  const refresh = await deleteInBatches(
    db,
    "refresh_tokens",
    sql`expires_at < now() or revoked_at < now() - ${REVOKED_REFRESH_RETENTION}`,
    batchSize,
    maxBatches,
  );
  const email = await deleteInBatches(
    db,
    "email_tokens",
    sql`used_at is not null or expires_at < now()`,
    batchSize,
    maxBatches,
  );

  const counts = { revokedJti: jti.deleted, refreshTokens: refresh.deleted, emailTokens: email.deleted };
  const result = {
    counts,
    durationMs: Date.now() - started,
    incomplete: jti.incomplete || refresh.incomplete || email.incomplete,
  };
  await db.insert(audit).values({ event: CLEANUP_EVENT, details: { ...result } });
  log.info("Cleanup job completed", {
    ...counts,
    durationMs: result.durationMs,
    incomplete: result.incomplete,
  });
  return result;
}

/** When the last cleanup completed, or undefined if it never ran. */
export async function lastCleanupAt(db: Database): Promise<Date | undefined> {
  return (await cleanupClock(db)).lastAt;
}

/** The last completed cleanup and the database's own time, to decide whether one is due. */
export async function cleanupClock(db: Database): Promise<{ lastAt: Date | undefined; now: Date }> {
  const rows = await db.execute<{ at: Date | string | null; now: Date | string }>(
    sql`select max(created_at) as at, now() as now from audit where event = ${CLEANUP_EVENT}`,
  );
  const row = rows.rows[0];
  return { lastAt: row?.at ? new Date(row.at) : undefined, now: new Date(row?.now ?? Date.now()) };
}

async function deleteInBatches(
  db: Database,
  table: "revoked_jti" | "refresh_tokens" | "email_tokens",
  condition: SQL,
  batchSize: number,
  maxBatches: number,
): Promise<{ deleted: number; incomplete: boolean }> {
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const result = await db.execute(sql`
      delete from ${sql.identifier(table)} where ctid in (
        select ctid from ${sql.identifier(table)} where ${condition}
        limit ${batchSize} for update skip locked
      )`);
    const count = result.rowCount ?? 0;
    deleted += count;
    if (count < batchSize) return { deleted, incomplete: false };
  }
  return { deleted, incomplete: true };
}
