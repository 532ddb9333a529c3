/**
 * The optional pepper (PASSWORD_PEPPER): a server-side secret mixed into every new password
 * hash as HMAC-SHA-256(pepper, password) before the KDF, so a copy of the database alone
 * cannot be attacked offline. Each peppered hash names its pepper by a key id, so a pepper can
 * be rotated: hashes under the previous one still verify and are rehashed at the next login.
 */
import { createHmac } from "node:crypto";

export interface Pepper {
  /** 8 hex digits derived from the pepper: names it without revealing it. */
  id: string;
  key: Uint8Array;
}

export function createPepper(secret: string): Pepper {
  const key = new TextEncoder().encode(secret);
  const id = createHmac("sha256", key).update("turkey password pepper id").digest("hex").slice(0, 8);
  return { id, key };
}

/** The KDF's input: the password itself, or its HMAC under the pepper. */
export function applyPepper(password: Uint8Array, pepper: Pepper | undefined): Uint8Array {
  if (!pepper) return password;
  return new Uint8Array(createHmac("sha256", pepper.key).update(password).digest());
}
