/**
 * A software authenticator for the tests: makes real WebAuthn responses with WebCrypto, the
 * way a browser and a platform authenticator would (ES256 on P-256, attestation "none"), so
 * the server's checks run on genuine bytes. Each part a test may want to falsify (origin, RP
 * ID, counter, flags, challenge) can be overridden per call.
 */
import { toBase64Url } from "../../src/crypto/base64url";

// --- A minimal CBOR encoder (RFC 8949): what attestation objects and COSE keys use. ---

type Cbor = number | string | Uint8Array | Cbor[] | Map<number | string, Cbor>;

function head(major: number, length: number): Uint8Array {
  if (length < 24) return Uint8Array.of((major << 5) | length);
  if (length < 0x100) return Uint8Array.of((major << 5) | 24, length);
  if (length < 0x10000) return Uint8Array.of((major << 5) | 25, length >> 8, length & 0xff);
  return Uint8Array.of(
    (major << 5) | 26,
    length >>> 24,
    (length >> 16) & 0xff,
    (length >> 8) & 0xff,
    length & 0xff,
  );
}

export function encodeCbor(value: Cbor): Uint8Array {
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === "string") {
    const bytes = new TextEncoder().encode(value);
    return concat(head(3, bytes.length), bytes);
  }
  if (value instanceof Uint8Array) return concat(head(2, value.length), value);
  if (Array.isArray(value)) return concat(head(4, value.length), ...value.map(encodeCbor));
  const entries = [...value.entries()].flatMap(([key, item]) => [encodeCbor(key), encodeCbor(item)]);
  return concat(head(5, value.size), ...entries);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// --- The authenticator. ---

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export interface CreationOptions {
  challenge: string;
  rp: { id?: string; name: string };
  user: { id: string; name: string; displayName: string };
}

export interface RequestOptions {
  challenge: string;
  rpId?: string;
  allowCredentials?: { id: string }[];
}

export interface Overrides {
  origin?: string;
  rpId?: string;
  challenge?: string;
  counter?: number;
  userVerified?: boolean;
  type?: string;
}

export interface Credential {
  id: string;
  keys: CryptoKeyPair;
  userHandle: string;
  counter: number;
}

export class SoftwareAuthenticator {
  readonly credentials: Credential[] = [];

  /** `synced`: a backup-eligible, backed-up passkey (BE and BS flags), as password managers make. */
  constructor(
    readonly origin: string,
    readonly options: { synced?: boolean; userVerified?: boolean } = {},
  ) {}

  /** navigator.credentials.create(): a new key pair and its attestation, as RegistrationResponseJSON. */
  async create(options: CreationOptions, overrides: Overrides = {}) {
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const rawId = crypto.getRandomValues(new Uint8Array(16));
    const credential = { id: toBase64Url(rawId), keys, userHandle: options.user.id, counter: 0 };
    const rpId = overrides.rpId ?? options.rp.id ?? "";
    const attested = concat(
      new Uint8Array(16),
      Uint8Array.of(0, rawId.length),
      rawId,
      await coseKey(keys.publicKey),
    );
    const authData = concat(await this.#authData(rpId, credential, overrides, FLAG_AT), attested);
    const clientData = this.#clientData("webauthn.create", options.challenge, overrides);
    const attestationObject = encodeCbor(
      new Map<string, Cbor>([
        ["fmt", "none"],
        ["attStmt", new Map()],
        ["authData", authData],
      ]),
    );
    this.credentials.push(credential);
    return {
      id: credential.id,
      rawId: credential.id,
      type: "public-key" as const,
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
      response: {
        clientDataJSON: toBase64Url(clientData),
        attestationObject: toBase64Url(attestationObject),
        // Sorted, as getTransports() answers.
        transports: ["hybrid", "internal"],
      },
    };
  }

  /** navigator.credentials.get(): a signed assertion by `credential` (the first allowed one by default). */
  async get(options: RequestOptions, overrides: Overrides = {}, credential = this.#pick(options)) {
    credential.counter += 1;
    const authData = await this.#authData(options.rpId ?? "", credential, overrides, 0);
    const clientData = this.#clientData("webauthn.get", options.challenge, overrides);
    const signed = concat(authData, new Uint8Array(await crypto.subtle.digest("SHA-256", clientData)));
    const raw = new Uint8Array(
      await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, credential.keys.privateKey, signed),
    );
    return {
      id: credential.id,
      rawId: credential.id,
      type: "public-key" as const,
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
      response: {
        clientDataJSON: toBase64Url(clientData),
        authenticatorData: toBase64Url(authData),
        signature: toBase64Url(derSignature(raw)),
        userHandle: credential.userHandle,
      },
    };
  }

  #pick(options: RequestOptions): Credential {
    const allowed = options.allowCredentials ?? [];
    const found = allowed.length
      ? this.credentials.find((credential) => allowed.some((allow) => allow.id === credential.id))
      : this.credentials[0];
    if (!found) throw new Error("this authenticator has none of the allowed credentials");
    return found;
  }

  async #authData(rpId: string, credential: Credential, overrides: Overrides, extra: number) {
    const rpIdHash = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(overrides.rpId ?? rpId)),
    );
    const verified = overrides.userVerified ?? this.options.userVerified ?? true;
    const flags = FLAG_UP | (verified ? FLAG_UV : 0) | (this.options.synced ? FLAG_BE | FLAG_BS : 0) | extra;
    const counter = overrides.counter ?? credential.counter;
    const count = Uint8Array.of(
      counter >>> 24,
      (counter >> 16) & 0xff,
      (counter >> 8) & 0xff,
      counter & 0xff,
    );
    return concat(rpIdHash, Uint8Array.of(flags), count);
  }

  #clientData(type: string, challenge: string, overrides: Overrides): Uint8Array {
    return new TextEncoder().encode(
      JSON.stringify({
        type: overrides.type ?? type,
        challenge: overrides.challenge ?? challenge,
        origin: overrides.origin ?? this.origin,
        crossOrigin: false,
      }),
    );
  }
}

/** The public key as a COSE_Key map (EC2, ES256, P-256). */
async function coseKey(publicKey: CryptoKey): Promise<Uint8Array> {
  const jwk = (await crypto.subtle.exportKey("jwk", publicKey)) as JsonWebKey;
  const bytes = (text = "") =>
    Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
  return encodeCbor(
    new Map<number, Cbor>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, bytes(jwk.x)],
      [-3, bytes(jwk.y)],
    ]),
  );
}

/** WebCrypto signs ECDSA as r‖s; WebAuthn carries it DER-encoded (an ASN.1 SEQUENCE of two INTEGERs). */
function derSignature(raw: Uint8Array): Uint8Array {
  const integer = (part: Uint8Array) => {
    let start = 0;
    while (start < part.length - 1 && part[start] === 0) start++;
    let value: Uint8Array = part.slice(start);
    if ((value[0] ?? 0) & 0x80) value = concat(Uint8Array.of(0), value);
    return concat(Uint8Array.of(0x02, value.length), value);
  };
  const body = concat(integer(raw.slice(0, 32)), integer(raw.slice(32)));
  return concat(Uint8Array.of(0x30, body.length), body);
}
