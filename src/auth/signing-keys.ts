/**
 * The key that signs access tokens. By default HS256 with JWT_SECRET; with JWT_PRIVATE_KEY (a
 * private JWK: EC P-256 → ES256, or OKP Ed25519 → EdDSA) tokens are signed asymmetrically,
 * carry a `kid`, and the public half is published at /.well-known/jwks.json so app backends
 * can verify signatures themselves. Either way exactly one algorithm is accepted.
 */
import { type CryptoKey, calculateJwkThumbprint, importJWK, type JWK } from "jose";

export type SigningAlgorithm = "HS256" | "ES256" | "EdDSA";

export interface SigningKey {
  secret: string;
  issuer: string;
  /** A private JWK as JSON text, when asymmetric signing is configured. */
  privateJwk?: string | undefined;
}

export interface KeyMaterial {
  alg: SigningAlgorithm;
  kid: string | undefined;
  signWith: CryptoKey | Uint8Array;
  verifyWith: CryptoKey | Uint8Array;
  /** The public JWK to publish; undefined for a shared secret. */
  publicJwk: (JWK & { kid: string; alg: string; use: "sig" }) | undefined;
}

/** The algorithm a private JWK implies, or undefined when Turkey does not sign with it. */
export function algorithmOf(jwk: JWK): SigningAlgorithm | undefined {
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return undefined;
}

const cache = new Map<string, Promise<KeyMaterial>>();

/** Imports the key once per isolate. */
export function keyMaterial(key: SigningKey): Promise<KeyMaterial> {
  const cacheKey = key.privateJwk ?? `secret:${key.secret}`;
  let material = cache.get(cacheKey);
  if (!material) {
    material = key.privateJwk
      ? importPrivateJwk(key.privateJwk)
      : Promise.resolve(secretMaterial(key.secret));
    cache.set(cacheKey, material);
  }
  return material;
}

function secretMaterial(secret: string): KeyMaterial {
  const bytes = new TextEncoder().encode(secret);
  return { alg: "HS256", kid: undefined, signWith: bytes, verifyWith: bytes, publicJwk: undefined };
}

async function importPrivateJwk(text: string): Promise<KeyMaterial> {
  const jwk = JSON.parse(text) as JWK;
  const alg = algorithmOf(jwk);
  if (!alg) throw new Error("unsupported signing key");
  const { d: _private, ...publicPart } = jwk;
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicPart));
  const publicJwk = {
    kty: publicPart.kty,
    crv: publicPart.crv,
    x: publicPart.x,
    y: publicPart.y,
    kid,
    alg,
    use: "sig" as const,
  };
  if (publicJwk.y === undefined) delete publicJwk.y;
  return {
    alg,
    kid,
    signWith: (await importJWK(jwk, alg)) as CryptoKey,
    verifyWith: (await importJWK(publicPart, alg)) as CryptoKey,
    publicJwk,
  };
}
