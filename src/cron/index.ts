/**
 * The Cron Trigger fires every minute. Every tick re-publishes revocations whose KV write
 * failed, so such a gap lasts a minute (plus KV's own propagation, ~60 s), not an hour;
 * cleanup runs when CLEANUP_INTERVAL_HOURS have passed since the last completed run (so the
 * interval is a setting rather than a deploy), or at once when the last run stopped at its
 * budget with rows left, so a backlog is worked off tick by tick.
 */
import { sealAudit } from "../audit/seal";
import { maintainSigningKeys } from "../auth/key-store";
import type { Config } from "../config";
import { type Bindings, configFor } from "../context";
import type { Database } from "../db";
import { openWorkerDatabase } from "../db";
import { describeError, log } from "../log";
import { republishRevocations } from "../revocation";
import { type CleanupResult, cleanupClock, runCleanup } from "./cleanup";

// A run that starts a little early (cron jitter) still counts as due.
const SCHEDULE_SLACK_MS = 5 * 60 * 1000;
/**
 * Revocations re-published per tick. One invocation may make at most 1,000 KV operations,
 * and each publish is one write plus at most one retry.
 */
export const REPUBLISH_PER_TICK = 400;

export function isCleanupDue(last: Date | undefined, now: Date, intervalHours: number): boolean {
  if (!last) return true;
  return now.getTime() - last.getTime() >= intervalHours * 3600 * 1000 - SCHEDULE_SLACK_MS;
}

/** One cron tick: heal KV, then clean up if due; returns the cleanup result, if it ran. */
export async function runScheduledCleanup(env: Bindings, now: Date): Promise<CleanupResult | undefined> {
  const config = configFor(env);
  const handle = openWorkerDatabase(env);
  try {
    await republishRevocations(handle.db, env.REVOCATIONS, now, REPUBLISH_PER_TICK);
    await maintainKeys(handle.db, config, now);
    await sealAuditChains(handle.db);
    // Due by the database's clock, the one the cleanup itself and its record go by.
    const clock = await cleanupClock(handle.db);
    const due = clock.lastIncomplete || isCleanupDue(clock.lastAt, clock.now, config.cleanupIntervalHours);
    if (!due) return undefined;
    return await runCleanup(handle.db, config);
  } catch (error) {
    log.error("Cleanup job failed", describeError(error));
    throw error;
  } finally {
    await handle.close();
  }
}

/** A failure here must not stop the sealing or the cleanup: it is logged, and retried next tick. */
async function maintainKeys(db: Database, config: Config, now: Date): Promise<void> {
  try {
    const changes = await maintainSigningKeys(db, config.encryptionKeys, now, {
      accessTtlSeconds: config.accessTtlSeconds,
      rotationDays: config.signingKeyRotationDays,
    });
    if (changes.promoted || changes.rotated || changes.removed.length > 0) {
      log.info("Signing keys changed", { ...changes });
    }
  } catch (error) {
    log.error("Signing key maintenance failed", describeError(error));
  }
}

async function sealAuditChains(db: Database): Promise<void> {
  try {
    const result = await sealAudit(db);
    if (result.sealed > 0) log.info("Audit sealed", { ...result });
  } catch (error) {
    log.error("Audit sealing failed", describeError(error));
  }
}
