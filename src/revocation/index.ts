/**
 * Revocation of access tokens before they expire. Postgres (`revoked_jti`) is the record;
 * KV (`REVOCATIONS`) is the edge copy read on every verify, so a check costs one KV read and
 * no SQL. KV is eventually consistent (a revocation can take ~60 s to reach other locations);
 * REVOCATION_CHECK=db trades that window for one Postgres query per check.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db";
import { describeError, log } from "../log";

export interface RevokedToken {
  jti: string;
  appId: string;
  userId: string | null;
  expiresAt: Date;
}

export type RevocationCheck = "kv" | "db";

/** KV refuses expirations under 60 s from now. */
const KV_MIN_TTL_SECONDS = 60;
const kvKey = (jti: string) => `revoked:${jti}`;

// Revocations seen by this isolate, kept until the token would have expired anyway.
const knownRevoked = new Map<string, number>();

/** Writes the edge copies; returns the jtis that KV accepted. Failures are logged, not thrown. */
export async function publishRevocations(
  kv: KVNamespace,
  tokens: RevokedToken[],
  now: Date,
): Promise<string[]> {
  const results = await Promise.allSettled(
    tokens.map(async (token) => {
      // Remembered here even if KV fails: this isolate refuses the token at once regardless.
      remember(token.jti, token.expiresAt.getTime());
      const ttl = Math.ceil((token.expiresAt.getTime() - now.getTime()) / 1000);
      const options = { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, ttl) };
      // One retry: KV writes fail transiently, and until the next cron tick heals it the
      // revocation would only hold where Postgres is asked.
      await kv.put(kvKey(token.jti), "1", options).catch(() => kv.put(kvKey(token.jti), "1", options));
      return token.jti;
    }),
  );
  const published: string[] = [];
  for (const result of results) {
    if (result.status === "fulfilled") published.push(result.value);
    else log.warn("revocation not written to KV; cleanup will retry", describeError(result.reason));
  }
  return published;
}

/**
 * Heals revocations whose KV write failed: Postgres had them all along, KV gets them now.
 * Returns how many were published.
 */
export async function republishRevocations(
  db: Database,
  kv: KVNamespace,
  now: Date,
  limit = 1000,
): Promise<number> {
  const pending = await findUnpublished(db, now, limit);
  const published = await publishRevocations(kv, pending, now);
  await markPublished(db, published);
  return published.length;
}

/** Revocations whose KV write failed, still live. */
async function findUnpublished(db: Database, now: Date, limit: number): Promise<RevokedToken[]> {
  const result = await db.execute<{ jti: string; app_id: string; user_id: string | null; expires_at: Date }>(
    sql`select jti, app_id, user_id, expires_at from revoked_jti
        where published_to_kv = false and expires_at > ${now} limit ${limit}`,
  );
  return result.rows.map((row) => ({
    jti: row.jti,
    appId: row.app_id,
    userId: row.user_id,
    expiresAt: new Date(row.expires_at),
  }));
}

/** Marks rows whose KV copy is written; the rest are re-published by the next cleanup. */
export async function markPublished(db: Database, jtis: string[]): Promise<void> {
  if (jtis.length === 0) return;
  await db.execute(
    sql`update revoked_jti set published_to_kv = true where jti in (${sql.join(
      jtis.map((jti) => sql`${jti}`),
      sql`, `,
    )})`,
  );
}

/** Records already committed to Postgres go to KV, and the published ones are marked. */
export async function publishAndMark(
  db: Database,
  kv: KVNamespace,
  tokens: RevokedToken[],
  now: Date,
): Promise<void> {
  const live = tokens.filter((token) => token.expiresAt > now);
  const published = await publishRevocations(kv, live, now);
  await markPublished(db, published);
}

export interface RevocationSources {
  kv: KVNamespace;
  /** Opened only when Postgres has to answer. */
  db: () => Database;
  mode: RevocationCheck;
  now: Date;
}

/**
 * Is this token revoked? One KV read normally; Postgres when asked to, or when KV fails.
 * `expiresAt` is the token's own expiry: a revocation is remembered in the isolate until then.
 */
export async function isRevoked(
  token: { jti: string; expiresAt: Date },
  sources: RevocationSources,
): Promise<boolean> {
  const { jti } = token;
  const known = knownRevoked.get(jti);
  if (known !== undefined) {
    if (known > sources.now.getTime()) return true;
    knownRevoked.delete(jti);
  }
  if (sources.mode === "kv") {
    try {
      const hit = (await sources.kv.get(kvKey(jti))) !== null;
      if (hit) remember(jti, token.expiresAt.getTime());
      return hit;
    } catch (error) {
      log.warn("KV revocation read failed; asking Postgres", describeError(error));
    }
  }
  return isRevokedInDatabase(sources.db(), jti, sources.now);
}

async function isRevokedInDatabase(db: Database, jti: string, now: Date): Promise<boolean> {
  const result = await db.execute<{ expires_at: Date }>(
    sql`select expires_at from revoked_jti where jti = ${jti} and expires_at > ${now}`,
  );
  const row = result.rows[0];
  if (row) remember(jti, new Date(row.expires_at).getTime());
  return row !== undefined;
}

/** Forgets what this isolate remembered (tests use it to reach KV or Postgres again). */
export function forgetRevocations(): void {
  knownRevoked.clear();
}

function remember(jti: string, untilMs: number): void {
  if (knownRevoked.size > 10_000) knownRevoked.clear();
  knownRevoked.set(jti, untilMs);
}
