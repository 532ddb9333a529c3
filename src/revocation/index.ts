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
      const ttl = Math.ceil((token.expiresAt.getTime() - now.getTime()) / 1000);
      await kv.put(kvKey(token.jti), "1", { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, ttl) });
      remember(token.jti, token.expiresAt.getTime());
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

/** Is this jti revoked? One KV read normally; Postgres when asked to, or when KV fails. */
export async function isRevoked(jti: string, sources: RevocationSources): Promise<boolean> {
  const known = knownRevoked.get(jti);
  if (known !== undefined) {
    if (known > sources.now.getTime()) return true;
    knownRevoked.delete(jti);
  }
  if (sources.mode === "kv") {
    try {
      const hit = (await sources.kv.get(kvKey(jti))) !== null;
      if (hit) remember(jti, sources.now.getTime() + KV_MIN_TTL_SECONDS * 1000);
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

function remember(jti: string, untilMs: number): void {
  if (knownRevoked.size > 10_000) knownRevoked.clear();
  knownRevoked.set(jti, untilMs);
}
