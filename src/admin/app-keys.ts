/**
 * App keys: how an app backend proves which app it is (the admin API, RFC 7662
 * introspection). A key is `tk_<appId>_<43 base64url characters>` (256 random bits); only its
 * SHA-256 is stored, and a key is looked up by that hash, so comparing it leaks no timing.
 *
 * Each isolate remembers a looked-up key (or its absence) for APP_KEY_CACHE_MS at most, so a
 * revoked key is refused everywhere within that time. `last_used_at` is written at most about
 * once a minute per key, not on every call.
 */
import { sql } from "drizzle-orm";
import { generateSecretToken, hashSecretToken } from "../auth/secrets";
import type { Database } from "../db";

const KEY_PATTERN = /^tk_([A-Za-z0-9][A-Za-z0-9._-]{0,63})_([A-Za-z0-9_-]{43})$/;

/** How long an isolate trusts what it read about a key: the bound on a revocation's delay. */
export const APP_KEY_CACHE_MS = 5_000;
/** `last_used_at` is rewritten only when older than this. */
export const LAST_USED_PRECISION_MS = 60_000;
const MAX_CACHED = 10_000;

/** A key that authenticated: its id and name (the name goes into the audit). */
export interface AppKey {
  id: string;
  appId: string;
  name: string;
}

/** A credential from an Authorization header: the app it names and the key. */
export interface AppKeyCredential {
  appId: string;
  key: string;
}

export function generateAppKey(appId: string): string {
  return `tk_${appId}_${generateSecretToken()}`;
}

export function hashAppKey(key: string): string {
  return hashSecretToken(key);
}

/** Whether a bearer token has the shape of an app key (an access token never does). */
export function isAppKey(token: string): boolean {
  return KEY_PATTERN.test(token);
}

/**
 * The app-key credential of an Authorization header: `Bearer tk_…`, or HTTP Basic with the
 * app id as user name and the key as password (percent-decoded, as RFC 6749 §2.3.1 encodes
 * them). Undefined when the header carries no app key at all.
 */
export function readAppKeyCredential(authorization: string | undefined): AppKeyCredential | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  if (bearer) {
    const appId = KEY_PATTERN.exec(bearer)?.[1];
    return appId ? { appId, key: bearer } : undefined;
  }
  const basic = /^Basic\s+([A-Za-z0-9+/]+=*)$/i.exec(authorization ?? "")?.[1];
  if (!basic) return undefined;
  const decoded = decodeBasic(basic);
  if (!decoded) return undefined;
  const colon = decoded.indexOf(":");
  if (colon < 1) return undefined;
  const appId = percentDecode(decoded.slice(0, colon));
  const key = percentDecode(decoded.slice(colon + 1));
  return appId && key ? { appId, key } : undefined;
}

function decodeBasic(value: string): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
      Uint8Array.from(atob(value), (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
}

function percentDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

interface Cached {
  key: (AppKey & { lastUsedAtMs: number }) | undefined;
  expiresAtMs: number;
}
const cache = new Map<string, Cached>();

export interface FoundAppKey {
  key: AppKey;
  /** True when `last_used_at` is old enough to be rewritten (call touchAppKey, after the answer). */
  stale: boolean;
}

/** The live key of this app with this value, or undefined (unknown, revoked, another app's). */
export async function findAppKey(
  db: Database,
  credential: AppKeyCredential,
  nowMs: number,
): Promise<FoundAppKey | undefined> {
  if (!isAppKey(credential.key)) return undefined;
  const hash = hashAppKey(credential.key);
  let cached = cache.get(hash);
  if (!cached || cached.expiresAtMs <= nowMs) {
    const result = await db.execute<{
      id: string;
      app_id: string;
      name: string;
      last_used_at: Date | null;
    }>(sql`
      select id, app_id, name, last_used_at from app_keys where key_hash = ${hash} and revoked_at is null`);
    const row = result.rows[0];
    const key = row && {
      id: row.id,
      appId: row.app_id,
      name: row.name,
      lastUsedAtMs: row.last_used_at ? new Date(row.last_used_at).getTime() : 0,
    };
    if (cache.size >= MAX_CACHED) cache.clear();
    cached = { key, expiresAtMs: nowMs + APP_KEY_CACHE_MS };
    cache.set(hash, cached);
  }
  const { key } = cached;
  // A key is valid only for its own app, whatever app the request names.
  if (!key || key.appId !== credential.appId) return undefined;
  const stale = nowMs - key.lastUsedAtMs >= LAST_USED_PRECISION_MS;
  // This isolate will not write again for a minute; others read the new value on their next miss.
  if (stale) key.lastUsedAtMs = nowMs;
  return { key: { id: key.id, appId: key.appId, name: key.name }, stale };
}

/** Records the use; skipped in the database too when another isolate just did it. */
export async function touchAppKey(db: Database, keyId: string, now: Date): Promise<void> {
  const threshold = new Date(now.getTime() - LAST_USED_PRECISION_MS);
  await db.execute(sql`
    update app_keys set last_used_at = ${now}
    where id = ${keyId}::uuid and (last_used_at is null or last_used_at < ${threshold})`);
}

/** Forgets cached keys (tests). */
export function forgetAppKeys(): void {
  cache.clear();
}
