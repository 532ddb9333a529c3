/** Health reporting: a real round trip to the database, and how long this isolate has served. */

import { type CleanupCounts, cleanupStatus } from "./cron/cleanup";
import type { RetentionSettings } from "./cron/retention";
import type { Database } from "./db";

const HEALTH_QUERY_TIMEOUT_MS = 3000;
/** Anyone may call /health: its database round trip is shared by every call for this long. */
export const HEALTH_CACHE_MS = 5000;
const recentChecks = new Map<string, { check: DatabaseCheck; untilMs: number }>();

export interface Health {
  status: "healthy" | "unhealthy";
  database: "connected" | "disconnected";
  uptime: string;
  uptimeSeconds: number;
  version: string;
  /** When the cleanup job last completed (ISO time), or null if it never ran. */
  lastCleanupAt: string | null;
  /** Rows past retention waiting for the cleanup, per rule (each counted up to 10,000). */
  cleanupBacklog?: Partial<CleanupCounts>;
}

export type DatabaseCheck =
  | { connected: true; lastCleanupAt: Date | undefined; backlog: Partial<CleanupCounts> }
  | { connected: false };

/** One real query (the cleanup's status) that must answer within the timeout. */
export async function checkDatabase(db: Database, retention: RetentionSettings): Promise<DatabaseCheck> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<DatabaseCheck>((resolve) => {
    timer = setTimeout(() => resolve({ connected: false }), HEALTH_QUERY_TIMEOUT_MS);
  });
  const ping = cleanupStatus(db, retention).then(
    (status): DatabaseCheck => ({ connected: true, lastCleanupAt: status.lastAt, backlog: status.backlog }),
    (): DatabaseCheck => ({ connected: false }),
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** checkDatabase, answered from this isolate's last check of the same database while fresh. */
export async function checkDatabaseCached(
  databaseKey: string,
  db: () => Database,
  retention: RetentionSettings,
  nowMs: number,
): Promise<DatabaseCheck> {
  const recent = recentChecks.get(databaseKey);
  if (recent && recent.untilMs > nowMs) return recent.check;
  const check = await checkDatabase(db(), retention);
  if (recentChecks.size > 100) recentChecks.clear();
  recentChecks.set(databaseKey, { check, untilMs: nowMs + HEALTH_CACHE_MS });
  return check;
}

/** `5d 12h 34m` as in the operations guide; seconds only matter in the first minute. */
export function formatUptime(totalSeconds: number): string {
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h ${minutes}m`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m`;
  return `${Math.floor(totalSeconds)}s`;
}
