/**
 * Password hashing with scrypt at an OWASP-equivalent cost that fits a Worker's 128 MB:
 * N=2^14, r=8, p=5 (16 MiB). Native `node:crypto` scrypt is used where present (about twice
 * as fast); @noble/hashes gives the same bytes elsewhere. Hashes are stored self-describing
 * (`$scrypt$ln=14,r=8,p=5$<salt>$<hash>`) so the cost can be raised later and old hashes
 * upgraded on the next successful login.
 */
import { scrypt as nodeScrypt, timingSafeEqual } from "node:crypto";
import { scrypt as nobleScrypt } from "@noble/hashes/scrypt.js";
import { ApiError } from "../errors";

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

export const DEFAULT_PARAMS: ScryptParams = { ln: 14, r: 8, p: 5 };
export const PASSWORD_MAX_LENGTH = 128;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

export type ScryptImplementation = "native" | "noble";
export type Derive = (password: Uint8Array, salt: Uint8Array, params: ScryptParams) => Promise<Uint8Array>;

export const deriveNative: Derive = (password, salt, { ln, r, p }) =>
  new Promise((resolve, reject) => {
    const N = 2 ** ln;
    nodeScrypt(password, salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r }, (error, key) =>
      error ? reject(error) : resolve(new Uint8Array(key)),
    );
  });

// The synchronous variant: the async one yields to the event loop every few ms, which costs
// far more than it gives inside a single-request Worker.
export const deriveNoble: Derive = async (password, salt, { ln, r, p }) =>
  nobleScrypt(password, salt, { N: 2 ** ln, r, p, dkLen: KEY_BYTES });

const defaultDerive: Derive = typeof nodeScrypt === "function" ? deriveNative : deriveNoble;

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
  params: ScryptParams = DEFAULT_PARAMS,
  derive: Derive = defaultDerive,
): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const key = await derive(encode(password), salt, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${toBase64(salt)}$${toBase64(key)}`;
}

export interface VerifyResult {
  ok: boolean;
  /** The hash was made with weaker parameters than today's: store a new one. */
  needsRehash: boolean;
}

export async function verifyPassword(
  password: string,
  stored: string,
  derive: Derive = defaultDerive,
  current: ScryptParams = DEFAULT_PARAMS,
): Promise<VerifyResult> {
  const parsed = parseHash(stored);
  if (!parsed) return { ok: false, needsRehash: false };
  const key = await derive(encode(password), parsed.salt, parsed.params);
  const ok = constantTimeEqual(key, parsed.key);
  const { ln, r, p } = parsed.params;
  return { ok, needsRehash: ok && (ln < current.ln || r < current.r || p < current.p) };
}

// Verified against when the email is unknown, so that answer costs the same as a wrong password.
const DUMMY_HASH = `$scrypt$ln=${DEFAULT_PARAMS.ln},r=${DEFAULT_PARAMS.r},p=${DEFAULT_PARAMS.p}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;

/** Spends one verification's worth of work and always fails. */
export async function verifyAgainstDummy(password: string, derive: Derive = defaultDerive): Promise<false> {
  await verifyPassword(password, DUMMY_HASH, derive);
  return false;
}

const HASH_FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function parseHash(stored: string): { params: ScryptParams; salt: Uint8Array; key: Uint8Array } | undefined {
  const match = HASH_FORMAT.exec(stored);
  if (!match) return undefined;
  const [, ln, r, p, salt, key] = match;
  return {
    params: { ln: Number(ln), r: Number(r), p: Number(p) },
    salt: fromBase64(salt ?? ""),
    key: fromBase64(key ?? ""),
  };
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const encode = (text: string) => new TextEncoder().encode(text.normalize("NFKC"));
const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
