/**
 * The app registry. Every /v1 request names its app; rows are cached in the isolate for a
 * short time so the registry costs no query on the hot path. Unknown ids are remembered in a
 * cache of their own: anyone can send them, so they must never push a real app out.
 */
import { eq } from "drizzle-orm";
import type { Database } from "../db";
import { apps } from "../db/schema";

export interface App {
  id: string;
  name: string;
  url: string;
  /** Passwordless sign-in by mailed code or link. */
  emailLogin: boolean;
  /** With emailLogin: an unknown address gets an account on first sign-in. */
  emailSignup: boolean;
  /** Mailed links open Turkey's own pages (/pages/<appId>/…) instead of the app's. */
  hostedPages: boolean;
}

const CACHE_TTL_MS = 30_000;
const MAX_KNOWN = 1000;
const MAX_UNKNOWN = 10_000;
const known = new Map<string, { app: App; expiresAtMs: number }>();
const unknown = new Map<string, number>();

/** The app with this id, or undefined; unknown ids are cached too, briefly. */
export async function findApp(db: Database, appId: string, nowMs: number): Promise<App | undefined> {
  const cached = known.get(appId);
  if (cached && cached.expiresAtMs > nowMs) return cached.app;
  if ((unknown.get(appId) ?? 0) > nowMs) return undefined;
  const [row] = await db
    .select({
      id: apps.id,
      name: apps.name,
      url: apps.url,
      emailLogin: apps.emailLogin,
      emailSignup: apps.emailSignup,
      hostedPages: apps.hostedPages,
    })
    .from(apps)
    .where(eq(apps.id, appId));
  if (row) remember(known, MAX_KNOWN, appId, { app: row, expiresAtMs: nowMs + CACHE_TTL_MS });
  else remember(unknown, MAX_UNKNOWN, appId, nowMs + CACHE_TTL_MS);
  return row;
}

function remember<T>(cache: Map<string, T>, max: number, key: string, value: T): void {
  if (cache.size >= max) cache.clear();
  cache.set(key, value);
}

/** Forgets cached apps (after the registry changes, and in tests). */
export function forgetApps(): void {
  known.clear();
  unknown.clear();
}
