/**
 * Stored signing keys and their life: `next` (published, not yet signing) → `current` (signs)
 * → `retired` (still verifies) → deleted once every token it signed has expired. The private
 * half is sealed under ENCRYPTION_KEY, bound to its kid. A rotation creates the next key; the
 * cron promotes it once it has been published long enough, retires the previous one and
 * deletes retired keys that verify nothing any more. Times come from the caller's clock, the one
 * the Worker signs and verifies by.
 */
import { sql } from "drizzle-orm";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { algorithmOf } from "../crypto/jwk-algorithm";
import { type EncryptionSecrets, seal } from "../crypto/seal";
import type { Database } from "../db";
import {
  PUBLISH_BEFORE_SIGNING_SECONDS,
  publicJwkOf,
  retiredKeyLifetimeSeconds,
  type StoredKey,
} from "./signing-keys";

export type KeyAlgorithm = "ES256" | "EdDSA";

type KeyRow = {
  kid: string;
  alg: KeyAlgorithm;
  state: StoredKey["state"];
  public_jwk: JWK;
  private_sealed: string;
  created_at: Date | string;
  usable_from: Date | string;
  activated_at: Date | string | null;
  retired_at: Date | string | null;
};

/** Every stored key, newest first. */
export async function loadStoredKeys(db: Database): Promise<(StoredKey & { createdAt: Date })[]> {
  const result = await db.execute<KeyRow>(sql`
    select kid, alg, state, public_jwk, private_sealed, created_at, usable_from, activated_at, retired_at
    from signing_keys order by created_at desc`);
  return result.rows.map((row) => ({
    kid: row.kid,
    alg: row.alg,
    state: row.state,
    publicJwk: row.public_jwk,
    privateSealed: row.private_sealed,
    createdAt: new Date(row.created_at),
    usableFrom: new Date(row.usable_from),
    activatedAt: row.activated_at === null ? null : new Date(row.activated_at),
    retiredAt: row.retired_at === null ? null : new Date(row.retired_at),
  }));
}

export class KeyStateError extends Error {
  override readonly name = "KeyStateError";
}

/**
 * Creates the next key (or stores `privateJwk` as it): published at once, signing no sooner
 * than PUBLISH_BEFORE_SIGNING_SECONDS from now. Refused while a next key is still waiting.
 */
export async function createNextKey(
  db: Database,
  secrets: EncryptionSecrets,
  now: Date,
  options: { alg?: KeyAlgorithm; privateJwk?: JWK } = {},
): Promise<{ kid: string; alg: KeyAlgorithm; usableFrom: Date }> {
  const jwk = options.privateJwk ?? (await generatePrivateJwk(options.alg ?? "ES256"));
  const alg = algorithmOf(jwk);
  if (alg !== "ES256" && alg !== "EdDSA") throw new KeyStateError("not an EC P-256 or Ed25519 private key");
  const publicJwk = await publicJwkOf(jwk, alg);
  const sealed = await seal(
    secrets,
    "signing-key",
    JSON.stringify({ ...jwk, kid: publicJwk.kid }),
    publicJwk.kid,
  );
  const usableFrom = new Date(now.getTime() + PUBLISH_BEFORE_SIGNING_SECONDS * 1000);
  const { kid: _kid, alg: _alg, use: _use, ...publicPart } = publicJwk;
  const inserted = await db.execute(sql`
    insert into signing_keys (kid, alg, state, public_jwk, private_sealed, created_at, usable_from)
    select ${publicJwk.kid}, ${alg}, 'next', ${JSON.stringify(publicPart)}::jsonb, ${sealed}, ${now}, ${usableFrom}
    where not exists (select 1 from signing_keys where state = 'next' or kid = ${publicJwk.kid})
    on conflict do nothing`);
  if ((inserted.rowCount ?? 0) === 0) {
    throw new KeyStateError("a next key is already waiting to be promoted (or this key is stored already)");
  }
  return { kid: publicJwk.kid, alg, usableFrom };
}

async function generatePrivateJwk(alg: KeyAlgorithm): Promise<JWK> {
  const options = alg === "EdDSA" ? { crv: "Ed25519", extractable: true } : { extractable: true };
  const { privateKey } = await generateKeyPair(alg, options);
  return exportJWK(privateKey);
}

export interface KeyMaintenance {
  promoted: string | undefined;
  removed: string[];
  rotated: string | undefined;
}

/**
 * The cron's part: promote a next key whose publication delay has passed (retiring the current
 * one), delete retired keys whose tokens have all expired, and — when rotationDays is set —
 * create the next key once the current one has signed that long.
 */
export async function maintainSigningKeys(
  db: Database,
  secrets: EncryptionSecrets,
  now: Date,
  settings: { accessTtlSeconds: number; rotationDays: number },
): Promise<KeyMaintenance> {
  const promoted = await promoteNextKey(db, now);
  const lifetime = retiredKeyLifetimeSeconds(settings.accessTtlSeconds);
  const removed = await db.execute<{ kid: string }>(sql`
    delete from signing_keys
    where state = 'retired' and retired_at < ${now}::timestamptz - ${lifetime} * interval '1 second'
    returning kid`);
  const rotated = await rotateIfDue(db, secrets, now, settings.rotationDays);
  return { promoted, removed: removed.rows.map((row) => row.kid), rotated };
}

/** Promotes the next key if it may sign by now; one statement, so two crons cannot both do it. */
export async function promoteNextKey(db: Database, now: Date): Promise<string | undefined> {
  const result = await db.execute<{ kid: string }>(sql`
    with due as (
      select kid from signing_keys where state = 'next' and usable_from <= ${now} for update
    ), retired as (
      update signing_keys set state = 'retired', retired_at = ${now}
      where state = 'current' and exists (select 1 from due) returning kid
    )
    update signing_keys set state = 'current', activated_at = ${now}
    where kid = (select kid from due) and (select count(*) from retired) >= 0
    returning kid`);
  return result.rows[0]?.kid;
}

async function rotateIfDue(
  db: Database,
  secrets: EncryptionSecrets,
  now: Date,
  rotationDays: number,
): Promise<string | undefined> {
  if (rotationDays <= 0) return undefined;
  const due = await db.execute<{ due: boolean }>(sql`
    select exists (select 1 from signing_keys where state = 'current'
      and activated_at <= ${now}::timestamptz - ${rotationDays} * interval '1 day')
      and not exists (select 1 from signing_keys where state = 'next') as due`);
  if (!due.rows[0]?.due) return undefined;
  try {
    return (await createNextKey(db, secrets, now)).kid;
  } catch (error) {
    // Another tick created it first.
    if (error instanceof KeyStateError) return undefined;
    throw error;
  }
}
