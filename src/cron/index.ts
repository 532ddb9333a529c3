/**
 * The Cron Trigger fires hourly; cleanup runs only when CLEANUP_INTERVAL_HOURS have passed
 * since the last completed run, so the interval is a setting rather than a deploy.
 */
import { type Bindings, configFor } from "../context";
import { openWorkerDatabase } from "../db";
import { describeError, log } from "../log";
import { type CleanupResult, lastCleanupAt, runCleanup } from "./cleanup";

// A run that starts a little early (cron jitter) still counts as due.
const SCHEDULE_SLACK_MS = 5 * 60 * 1000;

export function isCleanupDue(last: Date | undefined, now: Date, intervalHours: number): boolean {
  if (!last) return true;
  return now.getTime() - last.getTime() >= intervalHours * 3600 * 1000 - SCHEDULE_SLACK_MS;
}

/** Runs cleanup if due; returns its result, or undefined when it was not due. */
export async function runScheduledCleanup(env: Bindings, now: Date): Promise<CleanupResult | undefined> {
  const config = configFor(env);
  const handle = openWorkerDatabase(env);
  try {
    const last = await lastCleanupAt(handle.db);
    if (!isCleanupDue(last, now, config.cleanupIntervalHours)) return undefined;
    return await runCleanup(handle.db, { now });
  } catch (error) {
    log.error("Cleanup job failed", describeError(error));
    throw error;
  } finally {
    await handle.close();
  }
}
