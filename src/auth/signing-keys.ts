/**
 * The keys that sign and verify access tokens. By default HS256 with JWT_SECRET. Asymmetric
 * keys (EC P-256 → ES256, or OKP Ed25519 → EdDSA) carry a `kid` and their public halves are
 * published at /.well-known/jwks.json, so app backends can verify signatures themselves: either
 * one fixed key (JWT_PRIVATE_KEY), or stored keys that rotate (./key-store.ts).
 *
 * Stored keys are read once per isolate and kept KEY_CACHE_SECONDS. A key is published while
 * `next`, for at least one JWKS max-age plus that cache, before it may sign; so when an isolate
 * that has not yet seen a promotion meets a token of the new key, it already knows the key.
 * Verification picks the key by `kid`, pinned to that key's algorithm; an unknown kid is refused.
 */
import { type CryptoKey, calculateJwkThumbprint, importJWK, type JWK } from "jose";
import { algorithmOf, type SigningAlgorithm } from "../crypto/jwk-algorithm";
import { type EncryptionSecrets, open } from "../crypto/seal";

/** What /.well-known/jwks.json answers with: caches (and app backends) keep it this long. */
export const JWKS_MAX_AGE_SECONDS = 300;
/** How long an isolate keeps the stored keys before reading them again. */
export const KEY_CACHE_SECONDS = 30;
/** Tolerated clock difference between signer and verifier (on `iat`). */
const CLOCK_SKEW_SECONDS = 30;

export interface StoredKey {
  kid: string;
  alg: "ES256" | "EdDSA";
  state: "next" | "current" | "retired";
  publicJwk: JWK;
  privateSealed: string;
  usableFrom: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
}

export interface SigningKey {
  secret: string;
  issuer: string;
  /** A private JWK as JSON text, when one fixed asymmetric key is configured. */
  privateJwk?: string | undefined;
  /** Reads the stored keys; without it only the configured key counts (HS256 or JWT_PRIVATE_KEY). */
  load?: (() => Promise<StoredKey[]>) | undefined;
  /** Opens the current stored key's private half. */
  encryption?: EncryptionSecrets | undefined;
  /** How long the configured key keeps verifying after a stored key took over. */
  accessTtlSeconds?: number | undefined;
}

export type PublicJwk = JWK & { kid: string; alg: string; use: "sig" };

export interface Signer {
  alg: SigningAlgorithm;
  kid: string | undefined;
  key: CryptoKey | Uint8Array;
}

export interface Verifier {
  alg: SigningAlgorithm;
  key: CryptoKey | Uint8Array;
}

/** How long after its retirement a key's tokens may still be live (then it leaves the JWKS). */
export function retiredKeyLifetimeSeconds(accessTtlSeconds: number): number {
  // A stale isolate may still sign with it for KEY_CACHE_SECONDS after the promotion.
  return accessTtlSeconds + KEY_CACHE_SECONDS + CLOCK_SKEW_SECONDS;
}

/** How long a new key is published before it may sign. */
export const PUBLISH_BEFORE_SIGNING_SECONDS = JWKS_MAX_AGE_SECONDS + KEY_CACHE_SECONDS;

/** The key that signs a token made at `now`. */
export async function signerFor(key: SigningKey, now: Date): Promise<Signer> {
  const ring = await keyRing(key, now);
  const current = ring.stored.find((stored) => stored.row.state === "current");
  if (!current) return ring.configured;
  current.signer ??= openSigner(current.row, key.encryption);
  return current.signer;
}

/** The key that verifies a token with this header at `now`, or undefined (refuse it). */
export async function verifierFor(
  key: SigningKey,
  header: { kid?: string | undefined },
  now: Date,
): Promise<Verifier | undefined> {
  const ring = await keyRing(key, now);
  if (header.kid !== undefined) {
    const stored = ring.stored.find((entry) => entry.row.kid === header.kid && verifies(entry.row, now));
    if (stored) return stored.verifier;
  }
  if (!configuredKeyVerifies(ring, key, now)) return undefined;
  const { configured } = ring;
  return configured.kid === header.kid ? { alg: configured.alg, key: configured.verifyWith } : undefined;
}

/** The public keys to publish: every stored key, and the configured one while it verifies. */
export async function publishedKeys(key: SigningKey, now: Date): Promise<PublicJwk[]> {
  const ring = await keyRing(key, now);
  const stored = ring.stored.map((entry) => entry.publicJwk);
  const configured = ring.configured.publicJwk;
  if (!configured || !configuredKeyVerifies(ring, key, now)) return stored;
  return stored.some((jwk) => jwk.kid === configured.kid) ? stored : [configured, ...stored];
}

/** A `next` key verifies once it may have been promoted: a stale isolate must accept its tokens. */
function verifies(row: StoredKey, now: Date): boolean {
  return row.state !== "next" || row.usableFrom.getTime() <= now.getTime();
}

/**
 * The configured key (HS256 or JWT_PRIVATE_KEY) signs while no stored key is current, and
 * verifies until every token it signed has expired after the first stored key took over.
 */
function configuredKeyVerifies(ring: KeyRing, key: SigningKey, now: Date): boolean {
  const activations = ring.stored.flatMap((entry) => entry.row.activatedAt?.getTime() ?? []);
  if (activations.length === 0) return true;
  const lifetimeMs = retiredKeyLifetimeSeconds(key.accessTtlSeconds ?? 0) * 1000;
  return now.getTime() < Math.min(...activations) + lifetimeMs;
}

interface StoredEntry {
  row: StoredKey;
  publicJwk: PublicJwk;
  verifier: Verifier;
  signer?: Promise<Signer>;
}

interface ConfiguredKey extends Signer {
  verifyWith: CryptoKey | Uint8Array;
  publicJwk: PublicJwk | undefined;
}

interface KeyRing {
  configured: ConfiguredKey;
  stored: StoredEntry[];
}

interface CachedRing {
  ring: Promise<KeyRing>;
  loadedAtMs: number;
}

// One deployment (one database) per isolate: the configured key names the cache entry.
const rings = new Map<string, CachedRing>();
const configuredKeys = new Map<string, Promise<ConfiguredKey>>();

async function keyRing(key: SigningKey, now: Date): Promise<KeyRing> {
  const id = key.privateJwk ?? `secret:${key.issuer}:${key.secret}`;
  if (!key.load) return { configured: await configuredKey(id, key), stored: [] };
  const cached = rings.get(id);
  const fresh = cached && now.getTime() - cached.loadedAtMs < KEY_CACHE_SECONDS * 1000;
  if (fresh) return cached.ring;
  const loading = loadRing(id, key);
  rings.set(id, { ring: loading, loadedAtMs: now.getTime() });
  try {
    return await loading;
  } catch (error) {
    // The database is unreachable: the keys read a moment ago still hold, if there are any.
    if (cached) {
      rings.set(id, cached);
      return cached.ring;
    }
    rings.delete(id);
    throw error;
  }
}

async function loadRing(id: string, key: SigningKey): Promise<KeyRing> {
  const [configured, rows] = await Promise.all([configuredKey(id, key), key.load?.() ?? []]);
  return { configured, stored: await Promise.all(rows.map(storedEntry)) };
}

/** Forgets the keys read from the database (after a rotation, and in tests). */
export function forgetSigningKeys(): void {
  rings.clear();
}

function configuredKey(id: string, key: SigningKey): Promise<ConfiguredKey> {
  let material = configuredKeys.get(id);
  if (!material) {
    material = key.privateJwk ? importConfiguredJwk(key.privateJwk) : Promise.resolve(secretKey(key.secret));
    configuredKeys.set(id, material);
  }
  return material;
}

function secretKey(secret: string): ConfiguredKey {
  const bytes = new TextEncoder().encode(secret);
  return { alg: "HS256", kid: undefined, key: bytes, verifyWith: bytes, publicJwk: undefined };
}

async function importConfiguredJwk(text: string): Promise<ConfiguredKey> {
  const jwk = JSON.parse(text) as JWK;
  const alg = algorithmOf(jwk);
  if (!alg || alg === "HS256") throw new Error("unsupported signing key");
  const publicJwk = await publicJwkOf(jwk, alg);
  return {
    alg,
    kid: publicJwk.kid,
    key: (await importJWK(jwk, alg)) as CryptoKey,
    verifyWith: (await importJWK(publicJwk, alg)) as CryptoKey,
    publicJwk,
  };
}

/** The public half of a private JWK, with its kid (its own, or its RFC 7638 thumbprint). */
export async function publicJwkOf(jwk: JWK, alg: "ES256" | "EdDSA"): Promise<PublicJwk> {
  const { kty, crv, x, y } = jwk;
  const publicPart = y === undefined ? { kty, crv, x } : { kty, crv, x, y };
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicPart));
  return { ...publicPart, kid, alg, use: "sig" };
}

async function storedEntry(row: StoredKey): Promise<StoredEntry> {
  const publicJwk = { ...(row.publicJwk as PublicJwk), kid: row.kid, alg: row.alg, use: "sig" as const };
  const key = (await importJWK(publicJwk, row.alg)) as CryptoKey;
  return { row, publicJwk, verifier: { alg: row.alg, key } };
}

async function openSigner(row: StoredKey, encryption: EncryptionSecrets | undefined): Promise<Signer> {
  const secrets = encryption ?? { current: undefined, previous: undefined };
  const { plaintext } = await open(secrets, "signing-key", row.privateSealed, row.kid);
  const jwk = JSON.parse(new TextDecoder().decode(plaintext)) as JWK;
  return { alg: row.alg, kid: row.kid, key: (await importJWK(jwk, row.alg)) as CryptoKey };
}
