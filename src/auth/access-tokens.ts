/**
 * Access tokens: short-lived JWTs, audience = the appId, signed with the current key (HS256
 * with JWT_SECRET by default; ./signing-keys). Verification picks the key by `kid` and pins
 * its algorithm, the issuer and the audience, so a token of app A is worthless to app B and
 * `alg: none`, an unknown kid or a key-confusion attempt can never be accepted.
 *
 * They follow RFC 9068 (header `typ: at+jwt`, claim `client_id` = the app), so resource
 * servers using a standard library accept them, and verification requires that `typ`: no
 * other JWT signed with the same key can pass for an access token.
 */
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";
import { ApiError } from "../errors";
import { type SigningKey, signerFor, verifierFor } from "./signing-keys";

export type { SigningKey } from "./signing-keys";
/**
 * Tolerated clock difference for `iat` only. None on `exp`: Turkey signs and verifies on one
 * clock, and every revocation record is kept until `exp` — a tolerance there would let a
 * revoked token work again once its record expired.
 */
export const CLOCK_SKEW_SECONDS = 30;
/** Far above any token Turkey issues; refuses absurd inputs before any parsing. */
const MAX_TOKEN_LENGTH = 4096;

/** RFC 9068 §2.1. */
export const ACCESS_TOKEN_TYP = "at+jwt";

/**
 * Tokens signed before RFC 9068 carried `typ: JWT` and no `client_id`. They are accepted only
 * if issued before this instant (the release that introduced `at+jwt`; deploy it before then):
 * from then on Turkey signs nothing with `typ: JWT`, so a token of that type issued later
 * cannot be an access token. Every such token has expired one JWT_ACCESS_EXPIRES_IN after it.
 */
export const LEGACY_TYP_ISSUED_BEFORE = Date.UTC(2026, 11, 16) / 1000;

export interface AccessClaims {
  iss: string;
  sub: string;
  aud: string;
  /** RFC 9068: the app the token was issued to (= aud); absent on tokens from before it. */
  client_id?: string;
  iat: number;
  exp: number;
  jti: string;
  sid: string;
  email: string;
  email_verified: boolean;
  /** How the user signed in (RFC 8176): ["pwd"], ["pwd","otp"], … */
  amr: string[];
  /** Authenticator assurance level: 2 once a second factor (or a verified passkey) was used. */
  aal: 1 | 2;
}

/** Signs exactly the given claims, so re-signing a recorded token reproduces it. */
export async function signAccessToken(claims: Omit<AccessClaims, "iss">, key: SigningKey): Promise<string> {
  const { sub, aud, iat, exp, jti, ...custom } = claims;
  const material = await signerFor(key, new Date(iat * 1000));
  return new SignJWT(custom)
    .setProtectedHeader({
      alg: material.alg,
      typ: ACCESS_TOKEN_TYP,
      ...(material.kid ? { kid: material.kid } : {}),
    })
    .setIssuer(key.issuer)
    .setSubject(sub)
    .setAudience(aud)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(material.key);
}

/** Verifies signature and claims for the calling app; throws token_invalid / token_expired. */
export async function verifyAccessToken(
  token: string,
  key: SigningKey,
  audience: string,
  now: Date,
): Promise<AccessClaims> {
  if (token.length > MAX_TOKEN_LENGTH) throw new ApiError("token_invalid");
  const verifier = await verifierFor(key, headerOf(token), now);
  if (!verifier) throw new ApiError("token_invalid");
  try {
    const { payload, protectedHeader } = await jwtVerify(token, verifier.key, {
      algorithms: [verifier.alg],
      issuer: key.issuer,
      audience,
      currentDate: now,
      clockTolerance: 0,
      requiredClaims: ["sub", "iat", "exp", "jti", "sid"],
    });
    if ((payload.iat ?? 0) > now.getTime() / 1000 + CLOCK_SKEW_SECONDS) throw new ApiError("token_invalid");
    if (!isAccessClaims(payload) || !hasAccessType(protectedHeader.typ, payload)) {
      throw new ApiError("token_invalid");
    }
    // Tokens signed before amr and aal existed were all password sign-ins.
    return { ...payload, amr: payload.amr ?? ["pwd"], aal: payload.aal ?? 1 };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof errors.JWTExpired) throw new ApiError("token_expired");
    throw new ApiError("token_invalid");
  }
}

/** `at+jwt` with the app as client_id, or the legacy `JWT` type on a token old enough to be one. */
function hasAccessType(
  typ: string | undefined,
  claims: Pick<AccessClaims, "client_id" | "aud" | "iat">,
): boolean {
  const type = typ?.toLowerCase().replace(/^application\//, "");
  if (type === ACCESS_TOKEN_TYP) return claims.client_id === claims.aud;
  return type === "jwt" && claims.client_id === undefined && claims.iat < LEGACY_TYP_ISSUED_BEFORE;
}

function headerOf(token: string): { kid?: string | undefined } {
  try {
    const { kid } = decodeProtectedHeader(token);
    return { kid: typeof kid === "string" ? kid : undefined };
  } catch {
    throw new ApiError("token_invalid");
  }
}

function isAccessClaims(
  payload: Record<string, unknown>,
): payload is Record<string, unknown> & Omit<AccessClaims, "amr" | "aal"> & Partial<AccessClaims> {
  return (
    (payload.amr === undefined ||
      (Array.isArray(payload.amr) && payload.amr.every((method) => typeof method === "string"))) &&
    (payload.aal === undefined || payload.aal === 1 || payload.aal === 2) &&
    typeof payload.sub === "string" &&
    typeof payload.aud === "string" &&
    typeof payload.jti === "string" &&
    typeof payload.sid === "string" &&
    typeof payload.email === "string" &&
    typeof payload.email_verified === "boolean" &&
    typeof payload.iat === "number" &&
    typeof payload.exp === "number" &&
    (payload.client_id === undefined || typeof payload.client_id === "string")
  );
}
