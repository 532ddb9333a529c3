/**
 * TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30-second steps — the parameters
 * every authenticator app supports. A code is accepted for the current step and one step
 * either side (clock drift); which step matched is returned so the caller can refuse replays.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Steps accepted either side of the current one. */
export const TOTP_SKEW_STEPS = 1;
/** 160 bits, the HMAC-SHA-1 block-friendly length RFC 4226 recommends. */
const SECRET_BYTES = 20;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function generateTotpSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
}

export function timeStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The HOTP value of `counter`, as TOTP_DIGITS decimal digits. */
export function hotp(secret: Uint8Array, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", secret).update(message).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** TOTP_DIGITS).padStart(TOTP_DIGITS, "0");
}

/** The time step `code` belongs to, within the allowed skew, or undefined. */
export function matchingStep(secret: Uint8Array, code: string, nowMs: number): number | undefined {
  const current = timeStep(nowMs);
  let matched: number | undefined;
  // Every candidate is compared, in constant time, so timing does not tell which step matched.
  for (let step = current - TOTP_SKEW_STEPS; step <= current + TOTP_SKEW_STEPS; step++) {
    const expected = Buffer.from(hotp(secret, step));
    const given = Buffer.from(code.padEnd(TOTP_DIGITS).slice(0, TOTP_DIGITS));
    if (timingSafeEqual(expected, given) && code.length === TOTP_DIGITS) matched ??= step;
  }
  return matched;
}

/** The otpauth:// URI authenticator apps read from a QR code (Key URI Format). */
export function otpauthUrl(issuer: string, account: string, secret: Uint8Array): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  // Percent-encoded (a space is %20): authenticator apps do not read form encoding's `+`.
  const query = Object.entries({
    secret: toBase32(secret),
    issuer,
    algorithm: "SHA1",
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD_SECONDS),
  })
    .map(([key, value]) => `${key}=${encodeURIComponent(value)}`)
    .join("&");
  return `otpauth://totp/${label}?${query}`;
}

/** RFC 4648 base32 without padding, as authenticator apps expect the secret. */
export function toBase32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}
