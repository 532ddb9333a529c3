/**
 * Stored password hashes as PHC strings, so other tools can verify Turkey's hashes and Turkey
 * can import theirs (salt and hash in unpadded standard base64):
 *
 *   $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>     (also argon2i, argon2d, and v=16 or no v)
 *   $scrypt$ln=14,r=8,p=5$<salt>$<hash>
 *
 * A peppered hash adds its pepper's key id as a last parameter (`…,p=1,keyid=1a2b3c4d$…`):
 * standard tools then refuse the string instead of checking the password without the pepper.
 */
import type { Argon2Params, Argon2Variant } from "./argon2";
import type { ScryptParams } from "./scrypt";

interface Stored {
  /** The pepper's key id; absent for a hash of the bare password. */
  keyId?: string | undefined;
  salt: Uint8Array;
  hash: Uint8Array;
}

export type StoredArgon2 = Stored & { algorithm: Argon2Variant; version: number; params: Argon2Params };
export type StoredScrypt = Stored & { algorithm: "scrypt"; params: ScryptParams };
export type StoredHash = StoredArgon2 | StoredScrypt;

export function formatHash(stored: StoredHash): string {
  const keyId = stored.keyId ? `,keyid=${stored.keyId}` : "";
  const tail = `${keyId}$${toBase64(stored.salt)}$${toBase64(stored.hash)}`;
  if (stored.algorithm === "scrypt") {
    const { ln, r, p } = stored.params;
    return `$scrypt$ln=${ln},r=${r},p=${p}${tail}`;
  }
  const { m, t, p } = stored.params;
  return `$${stored.algorithm}$v=${stored.version}$m=${m},t=${t},p=${p}${tail}`;
}

const ARGON2_VERSION_10 = 0x10;
const B64 = "([A-Za-z0-9+/]+)";
const KEY_ID = "(?:,keyid=([0-9a-f]{8}))?";
const ARGON2 = new RegExp(
  `^\\$(argon2id|argon2i|argon2d)(?:\\$v=(16|19))?\\$m=(\\d{1,7}),t=(\\d{1,4}),p=(\\d{1,3})${KEY_ID}\\$${B64}\\$${B64}$`,
);
const SCRYPT = new RegExp(`^\\$scrypt\\$ln=(\\d{1,2}),r=(\\d{1,3}),p=(\\d{1,3})${KEY_ID}\\$${B64}\\$${B64}$`);

/** The parts of a stored hash, or undefined for anything Turkey cannot verify. */
export function parseHash(text: string): StoredHash | undefined {
  try {
    return parseParts(text);
  } catch {
    return undefined; // salt or hash that is not base64
  }
}

function parseParts(text: string): StoredHash | undefined {
  const argon2 = ARGON2.exec(text);
  if (argon2) {
    const [, algorithm, version, m, t, p, keyId, salt, hash] = argon2;
    return {
      algorithm: algorithm as Argon2Variant,
      // A string without v= comes from Argon2 1.0, before the version was written down.
      version: version ? Number(version) : ARGON2_VERSION_10,
      params: { m: Number(m), t: Number(t), p: Number(p) },
      ...decodeTail(keyId, salt, hash),
    };
  }
  const scrypt = SCRYPT.exec(text);
  if (!scrypt) return undefined;
  const [, ln, r, p, keyId, salt, hash] = scrypt;
  return {
    algorithm: "scrypt",
    params: { ln: Number(ln), r: Number(r), p: Number(p) },
    ...decodeTail(keyId, salt, hash),
  };
}

function decodeTail(keyId: string | undefined, salt = "", hash = ""): Stored {
  return { keyId, salt: fromBase64(salt), hash: fromBase64(hash) };
}

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
