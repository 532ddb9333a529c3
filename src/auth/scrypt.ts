/**
 * scrypt, Turkey's password hash before Argon2id and still available (PASSWORD_HASH=scrypt):
 * native `node:crypto` where present (about twice as fast), @noble/hashes elsewhere, with
 * identical bytes.
 */
import { scrypt as nodeScrypt } from "node:crypto";
import { scrypt as nobleScrypt } from "@noble/hashes/scrypt.js";

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

/** An OWASP-equivalent setting that fits a Worker's 128 MB: N=2^14, r=8, p=5 (16 MiB). */
export const SCRYPT_DEFAULTS: ScryptParams = { ln: 14, r: 8, p: 5 };

export type ScryptImplementation = "native" | "noble";
export type Derive = (
  password: Uint8Array,
  salt: Uint8Array,
  params: ScryptParams,
  keyBytes: number,
) => Promise<Uint8Array>;

/** Bytes of memory one derivation needs: 128·N·r. */
export const scryptMemoryBytes = ({ ln, r }: ScryptParams) => 128 * 2 ** ln * r;

export const deriveNative: Derive = (password, salt, params, keyBytes) =>
  new Promise((resolve, reject) => {
    const { ln, r, p } = params;
    const options = { N: 2 ** ln, r, p, maxmem: 2 * scryptMemoryBytes(params) };
    nodeScrypt(password, salt, keyBytes, options, (error, key) =>
      error ? reject(error) : resolve(new Uint8Array(key)),
    );
  });

// The synchronous variant: the async one yields to the event loop every few ms, which costs
// far more than it gives inside a single-request Worker.
export const deriveNoble: Derive = async (password, salt, { ln, r, p }, keyBytes) =>
  nobleScrypt(password, salt, { N: 2 ** ln, r, p, dkLen: keyBytes });

export const deriveScrypt: Derive = typeof nodeScrypt === "function" ? deriveNative : deriveNoble;
