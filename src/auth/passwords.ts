/**
 * Password hashing. New hashes are Argon2id at OWASP's first-choice cost (m=19456 KiB, t=2,
 * p=1; 16-byte salt, 32-byte key) as PHC strings, or scrypt N=2^14, r=8, p=5 with
 * PASSWORD_HASH=scrypt. Parameters can only be raised. Any stored hash Turkey can read verifies;
 * one weaker than the policy (the other algorithm, a lower parameter, another pepper or none)
 * asks for a rehash, which login stores while it holds the plaintext.
 */
import { timingSafeEqual } from "node:crypto";
import type { Config } from "../config";
import { ApiError } from "../errors";
import { log } from "../log";
import { ARGON2_VERSION, type Argon2Params, deriveArgon2 } from "./argon2";
import { formatHash, parseHash, type StoredHash } from "./password-format";
import { applyPepper, createPepper, type Pepper } from "./pepper";
import { deriveScrypt, SCRYPT_DEFAULTS, type ScryptParams, scryptMemoryBytes } from "./scrypt";

export type PasswordAlgorithm = "argon2id" | "scrypt";

/** How new hashes are made, and so what counts as weaker. */
export interface HashingPolicy {
  algorithm: PasswordAlgorithm;
  argon2: Argon2Params;
  scrypt: ScryptParams;
  /** Mixed into every new hash. */
  pepper?: Pepper | undefined;
  /** Still accepted for hashes that name it; they are rehashed under `pepper`. */
  previousPepper?: Pepper | undefined;
}

export const ARGON2_DEFAULTS: Argon2Params = { m: 19_456, t: 2, p: 1 };
export const DEFAULT_POLICY: HashingPolicy = {
  algorithm: "argon2id",
  argon2: ARGON2_DEFAULTS,
  scrypt: SCRYPT_DEFAULTS,
};
export const PASSWORD_MAX_LENGTH = 128;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
// A stored hash asking for more than this is refused rather than allowed to exhaust the
// isolate's 128 MB (a tampered row, or an import from a machine with memory to spare).
const MAX_HASH_MEMORY_BYTES = 64 * 2 ** 20;

const policies = new WeakMap<Config["passwordHashing"], HashingPolicy>();

/** The configured policy; built once per configuration (the pepper's key id is derived). */
export function hashingPolicy(config: Pick<Config, "passwordHashing">): HashingPolicy {
  const settings = config.passwordHashing;
  let policy = policies.get(settings);
  if (!policy) {
    const { algorithm, argon2, scrypt, pepper, previousPepper } = settings;
    policy = {
      algorithm,
      argon2,
      scrypt,
      pepper: pepper ? createPepper(pepper) : undefined,
      previousPepper: previousPepper ? createPepper(previousPepper) : undefined,
    };
    policies.set(settings, policy);
  }
  return policy;
}

/** Refuses passwords outside the policy before any hashing work is spent on them. */
export function checkPasswordPolicy(password: string, minLength: number, field = "password"): void {
  const length = [...password].length;
  if (length < minLength) {
    throw new ApiError("validation_failed", `${field}: must have at least ${minLength} characters`, field);
  }
  if (length > PASSWORD_MAX_LENGTH) {
    throw new ApiError(
      "validation_failed",
      `${field}: must have at most ${PASSWORD_MAX_LENGTH} characters`,
      field,
    );
  }
}

export async function hashPassword(
  password: string,
  policy: HashingPolicy = DEFAULT_POLICY,
): Promise<string> {
  const stored = planHash(
    policy,
    crypto.getRandomValues(new Uint8Array(SALT_BYTES)),
    new Uint8Array(KEY_BYTES),
  );
  stored.hash = await derive(stored, applyPepper(encode(password), policy.pepper));
  return formatHash(stored);
}

export interface VerifyResult {
  ok: boolean;
  /** The hash is weaker than the policy's (algorithm, parameters, pepper): store a new one. */
  needsRehash: boolean;
}

export async function verifyPassword(
  password: string,
  stored: string,
  policy: HashingPolicy = DEFAULT_POLICY,
): Promise<VerifyResult> {
  const parsed = parseHash(stored);
  if (!parsed || !isWithinLimits(parsed)) return { ok: false, needsRehash: false };
  const pepper = findPepper(parsed.keyId, policy);
  if (pepper === null) return { ok: false, needsRehash: false };
  const key = await derive(parsed, applyPepper(encode(password), pepper));
  const ok = key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
  return { ok, needsRehash: ok && isWeaker(parsed, policy) };
}

/**
 * Spends one verification's worth of work under the policy (algorithm, parameters, pepper)
 * and always fails: an unknown email must cost what a wrong password costs.
 */
export async function verifyAgainstDummy(
  password: string,
  policy: HashingPolicy = DEFAULT_POLICY,
): Promise<false> {
  await verifyPassword(password, dummyHash(policy), policy);
  return false;
}

/** A well-formed hash under the policy that no password matches (its salt and hash are zeros). */
export function dummyHash(policy: HashingPolicy): string {
  return formatHash(planHash(policy, new Uint8Array(SALT_BYTES), new Uint8Array(KEY_BYTES)));
}

/** A hash under the policy with the given salt and hash bytes (a placeholder of the key's length). */
function planHash(policy: HashingPolicy, salt: Uint8Array, hash: Uint8Array): StoredHash {
  const keyId = policy.pepper?.id;
  if (policy.algorithm === "scrypt") return { algorithm: "scrypt", params: policy.scrypt, keyId, salt, hash };
  return { algorithm: "argon2id", version: ARGON2_VERSION, params: policy.argon2, keyId, salt, hash };
}

function derive(stored: StoredHash, input: Uint8Array): Promise<Uint8Array> {
  const keyBytes = stored.hash.length;
  if (stored.algorithm === "scrypt") return deriveScrypt(input, stored.salt, stored.params, keyBytes);
  const { algorithm: variant, version, params, salt } = stored;
  return deriveArgon2({ password: input, salt, params, keyBytes, variant, version });
}

/** The pepper a stored hash names: undefined for none, null when it is not configured. */
function findPepper(keyId: string | undefined, policy: HashingPolicy): Pepper | undefined | null {
  if (keyId === undefined) return undefined;
  const pepper = [policy.pepper, policy.previousPepper].find((candidate) => candidate?.id === keyId);
  if (pepper) return pepper;
  // Nobody can sign in with such a hash until the pepper is configured again.
  log.warn("Password hash made with a pepper that is not configured", { keyId });
  return null;
}

function isWithinLimits(stored: StoredHash): boolean {
  const { salt, hash } = stored;
  if (salt.length < 8 || salt.length > 64 || hash.length < 16 || hash.length > 64) return false;
  if (stored.algorithm === "scrypt") {
    const { ln, r, p } = stored.params;
    return (
      ln >= 1 && r >= 1 && p >= 1 && p <= 64 && scryptMemoryBytes(stored.params) <= MAX_HASH_MEMORY_BYTES
    );
  }
  const { m, t, p } = stored.params;
  return p >= 1 && p <= 16 && t >= 1 && t <= 16 && m >= 8 * p && m * 1024 <= MAX_HASH_MEMORY_BYTES;
}

function isWeaker(stored: StoredHash, policy: HashingPolicy): boolean {
  if (stored.keyId !== policy.pepper?.id) return true;
  if (stored.salt.length < SALT_BYTES || stored.hash.length < KEY_BYTES) return true;
  if (stored.algorithm === "scrypt") {
    return policy.algorithm !== "scrypt" || isAnyLower(stored.params, policy.scrypt);
  }
  return (
    policy.algorithm !== "argon2id" ||
    stored.algorithm !== "argon2id" ||
    stored.version !== ARGON2_VERSION ||
    isAnyLower(stored.params, policy.argon2)
  );
}

function isAnyLower<T extends object>(stored: T, wanted: T): boolean {
  return (Object.keys(wanted) as (keyof T)[]).some((key) => Number(stored[key]) < Number(wanted[key]));
}

const encode = (text: string) => new TextEncoder().encode(text.normalize("NFKC"));
