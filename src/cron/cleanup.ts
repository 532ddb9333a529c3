/**
 * Cleanup of rows that no longer protect anything (./retention says which), shared by the
 * Cron Trigger and `gravy db cleanup`. Works in bounded batches (`LIMIT … FOR UPDATE SKIP
 * LOCKED`) within a budget of batches and time, so one invocation stays within a Worker's
 * limits and never holds long locks; a run that stops with work left is recorded as
 * incomplete, and the next tick continues it. Expiry is judged by the database's clock, never
 * the caller's: a CLI on a laptop with a wrong clock must not delete a live revocation.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db";
import { audit } from "../db/schema";
import { log } from "../log";
import { batchStatement, type RetentionKey, type RetentionSettings, retentionRules } from "./retention";

export const CLEANUP_EVENT = "cleanup_completed";
/** A run that stopped at its budget with rows left; the next tick continues. */
export const CLEANUP_INCOMPLETE_EVENT = "cleanup_incomplete";

export interface CleanupOptions extends RetentionSettings {
  batchSize?: number;
  /** Stop starting new batches after this many in all. */
  maxBatches?: number;
  /** …or after this long (a cron tick under an hour apart has 30 s). */
  timeBudgetMs?: number;
}

export type CleanupCounts = Record<RetentionKey, number>;

export interface CleanupResult {
  /** Rows deleted (or, for auditPii, redacted) per rule. */
  counts: CleanupCounts;
  durationMs: number;
  /** True when the budget ran out with rows still past retention. */
  incomplete: boolean;
}

export const DEFAULT_BATCH_SIZE = 5000;
const DEFAULT_MAX_BATCHES = 200;
const DEFAULT_TIME_BUDGET_MS = 15_000;

export async function runCleanup(db: Database, options: CleanupOptions): Promise<CleanupResult> {
  const started = Date.now();
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const deadline = started + (options.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS);
  let batchesLeft = options.maxBatches ?? DEFAULT_MAX_BATCHES;
  const counts = {} as CleanupCounts;
  let incomplete = false;
  for (const rule of retentionRules(options)) {
    counts[rule.key] = 0;
    let done = false;
    while (!done && batchesLeft > 0 && Date.now() < deadline) {
      batchesLeft--;
      const affected = (await db.execute(batchStatement(rule, batchSize))).rowCount ?? 0;
      counts[rule.key] += affected;
      done = affected < batchSize;
    }
    if (!done) incomplete = true;
  }
  const result = { counts, durationMs: Date.now() - started, incomplete };
  await db
    .insert(audit)
    .values({ event: incomplete ? CLEANUP_INCOMPLETE_EVENT : CLEANUP_EVENT, details: result });
  log.info("Cleanup job completed", { ...counts, durationMs: result.durationMs, incomplete });
  return result;
}

/** Backlog counts stop here: enough to see a cleanup falling behind, cheap to count. */
export const BACKLOG_CAP = 10_000;

export interface CleanupClock {
  /** When the last cleanup caught up completely, or undefined if none ever did. */
  lastAt: Date | undefined;
  /** Whether the newest run stopped with work left. */
  lastIncomplete: boolean;
  /** The database's time. */
  now: Date;
}

export interface CleanupStatus extends CleanupClock {
  /** Rows past retention per rule, each counted up to BACKLOG_CAP. */
  backlog: Partial<CleanupCounts>;
}

/** When the last cleanup completed, or undefined if it never ran. */
export async function lastCleanupAt(db: Database): Promise<Date | undefined> {
  return (await cleanupClock(db)).lastAt;
}

/** The last cleanup runs and the database's own time, to decide whether one is due. */
export async function cleanupClock(db: Database): Promise<CleanupClock> {
  const result = await db.execute<ClockRow>(sql`select ${CLOCK_COLUMNS}`);
  return clockFrom(result.rows[0]);
}

/** The clock and the backlog of every rule, in one round trip (for /health and `db health`). */
export async function cleanupStatus(db: Database, settings: RetentionSettings): Promise<CleanupStatus> {
  const rules = retentionRules(settings);
  const backlog = rules.map(
    (rule) =>
      sql`(select count(*)::int from (select 1 from ${sql.identifier(rule.table)} where ${rule.due}
        limit ${BACKLOG_CAP}) capped) as ${sql.identifier(rule.key)}`,
  );
  const result = await db.execute<ClockRow & Partial<CleanupCounts>>(
    sql`select ${CLOCK_COLUMNS}, ${sql.join(backlog, sql`, `)}`,
  );
  const row = result.rows[0];
  const counts = Object.fromEntries(rules.map((rule) => [rule.key, Number(row?.[rule.key] ?? 0)]));
  return { ...clockFrom(row), backlog: counts };
}

type ClockRow = { at: Date | string | null; incomplete_at: Date | string | null; now: Date | string };

const CLOCK_COLUMNS = sql`
  (select max(created_at) from audit where event = ${CLEANUP_EVENT}) as at,
  (select max(created_at) from audit where event = ${CLEANUP_INCOMPLETE_EVENT}) as incomplete_at,
  now() as now`;

function clockFrom(row: ClockRow | undefined): CleanupClock {
  const lastAt = row?.at ? new Date(row.at) : undefined;
  const incompleteAt = row?.incomplete_at ? new Date(row.incomplete_at) : undefined;
  return {
    lastAt,
    lastIncomplete: incompleteAt !== undefined && (lastAt === undefined || incompleteAt > lastAt),
    now: new Date(row?.now ?? Date.now()),
  };
}
