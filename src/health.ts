/** Health reporting: a real round trip to the database, and how long this isolate has served. */
import { sql } from "drizzle-orm";
import type { Database } from "./db";

const HEALTH_QUERY_TIMEOUT_MS = 3000;

export interface Health {
  status: "healthy" | "unhealthy";
  database: "connected" | "disconnected";
  uptime: string;
  uptimeSeconds: number;
  version: string;
}

/** True when `SELECT 1` answers within the timeout. */
export async function pingDatabase(db: Database): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), HEALTH_QUERY_TIMEOUT_MS);
  });
  const ping = db.execute(sql`select 1`).then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
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
