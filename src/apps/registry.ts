/**
 * The app registry. Every /v1 request names its app; rows are cached in the isolate for a
 * short time so the registry costs no query on the hot path.
 */
import { eq } from "drizzle-orm";
import type { Database } from "../db";
import { apps } from "../db/schema";

export interface App {
  id: string;
  name: string;
  url: string;
}

const CACHE_TTL_MS = 30_000;
const cache = new Map<string, { app: App | undefined; expiresAtMs: number }>();

/** The app with this id, or undefined; unknown ids are cached too, briefly. */
export async function findApp(db: Database, appId: string, nowMs: number): Promise<App | undefined> {
  const cached = cache.get(appId);
  if (cached && cached.expiresAtMs > nowMs) return cached.app;
  const [row] = await db
    .select({ id: apps.id, name: apps.name, url: apps.url })
    .from(apps)
    .where(eq(apps.id, appId));
  if (cache.size > 1000) cache.clear();
  cache.set(appId, { app: row, expiresAtMs: nowMs + CACHE_TTL_MS });
  return row;
}

/** Forgets cached apps (after the registry changes, and in tests). */
export function forgetApps(): void {
  cache.clear();
}
