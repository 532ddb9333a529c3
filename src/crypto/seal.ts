/**
 * Sealing what Turkey must be able to read back (TOTP secrets, OAuth client secrets, private
 * signing keys) under the one secret ENCRYPTION_KEY: AES-256-GCM with a key derived by HKDF
 * per purpose, so a ciphertext of one purpose never opens as another. Each sealed value names
 * the secret it was sealed under by a key id, so the secret can rotate: values sealed under
 * ENCRYPTION_KEY_PREVIOUS still open, and report that they should be sealed again.
 * The associated data binds a value to its row (e.g. app and user), so a ciphertext copied into
 * another row does not open. What Turkey only needs to recognise is hashed, never sealed.
 */
import { createHmac } from "node:crypto";
import { ConfigError } from "../config";
import { fromBase64Url, toBase64Url } from "./base64url";

/** `oauth-flow`: Turkey's PKCE verifier towards a provider, for the minutes a sign-in takes. */
export type SealPurpose = "totp-secret" | "oauth-client-secret" | "oauth-flow" | "signing-key";

export interface EncryptionSecrets {
  current: string | undefined;
  previous: string | undefined;
}

export interface Opened {
  plaintext: Uint8Array;
  /** Sealed under the previous secret: seal it again under the current one. */
  stale: boolean;
}

const FORMAT = "v1";
const IV_BYTES = 12;

/** Seals `plaintext` for `purpose`, bound to `context`. Throws ConfigError without ENCRYPTION_KEY. */
export async function seal(
  secrets: EncryptionSecrets,
  purpose: SealPurpose,
  plaintext: Uint8Array | string,
  context: string,
): Promise<string> {
  if (!secrets.current) throw missingKey();
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const bytes = typeof plaintext === "string" ? new TextEncoder().encode(plaintext) : plaintext;
  const key = await derivedKey(secrets.current, purpose);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: associatedData(purpose, context) },
    key,
    bytes,
  );
  return [FORMAT, keyId(secrets.current), toBase64Url(iv), toBase64Url(new Uint8Array(sealed))].join(".");
}

/** Opens a sealed value; throws when it is malformed, tampered with, or sealed under an unknown secret. */
export async function open(
  secrets: EncryptionSecrets,
  purpose: SealPurpose,
  sealed: string,
  context: string,
): Promise<Opened> {
  const [format, id, iv, ciphertext] = sealed.split(".");
  if (format !== FORMAT || !id || !iv || !ciphertext) throw new SealError("not a sealed value");
  const secret = [secrets.current, secrets.previous].find(
    (candidate) => candidate && keyId(candidate) === id,
  );
  if (!secret) {
    if (!secrets.current) throw missingKey();
    throw new SealError(`sealed under an unknown ENCRYPTION_KEY (key id ${id})`);
  }
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64Url(iv), additionalData: associatedData(purpose, context) },
      await derivedKey(secret, purpose),
      fromBase64Url(ciphertext),
    );
    return { plaintext: new Uint8Array(plaintext), stale: secret !== secrets.current };
  } catch {
    throw new SealError("the sealed value does not open (tampered with, or another row's)");
  }
}

/** The key id of a sealed value, or undefined when it is not one. */
export function sealedKeyId(sealed: string): string | undefined {
  const [format, id] = sealed.split(".");
  return format === FORMAT ? id : undefined;
}

/** 8 hex digits naming a secret without revealing it. */
export function keyId(secret: string): string {
  return createHmac("sha256", secret).update("turkey encryption key id").digest("hex").slice(0, 8);
}

export class SealError extends Error {
  override readonly name = "SealError";
}

const derivedKeys = new Map<string, Promise<CryptoKey>>();

function derivedKey(secret: string, purpose: SealPurpose): Promise<CryptoKey> {
  const cacheKey = `${keyId(secret)}:${purpose}`;
  let key = derivedKeys.get(cacheKey);
  if (!key) {
    key = deriveKey(secret, purpose);
    derivedKeys.set(cacheKey, key);
  }
  return key;
}

async function deriveKey(secret: string, purpose: SealPurpose): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new TextEncoder().encode("turkey seal v1"),
      info: new TextEncoder().encode(purpose),
    },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function associatedData(purpose: SealPurpose, context: string): Uint8Array {
  return new TextEncoder().encode(`${purpose}\n${context}`);
}

function missingKey(): ConfigError {
  return new ConfigError(["ENCRYPTION_KEY"], "ENCRYPTION_KEY is required to store or read sealed secrets");
}
