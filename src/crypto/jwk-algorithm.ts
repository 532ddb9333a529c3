/**
 * Which signing algorithm a key implies. A leaf module: configuration checks a
 * JWT_PRIVATE_KEY with it, and the signing keys use it, without either importing the other.
 */
import type { JWK } from "jose";

export type SigningAlgorithm = "HS256" | "ES256" | "EdDSA";

/** The algorithm a private JWK implies, or undefined when Turkey does not sign with it. */
export function algorithmOf(jwk: JWK): SigningAlgorithm | undefined {
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return undefined;
}
