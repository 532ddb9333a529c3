/**
 * Access tokens: short-lived JWTs signed with JWT_SECRET (HS256), audience = the appId.
 * Verification pins the algorithm, issuer and audience, so a token of app A is worthless
 * to app B and `alg: none` or an asymmetric-key confusion can never be accepted.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { ApiError } from "../errors";

const ALGORITHM = "HS256";
/** Tolerated clock difference between issuers and verifiers. */
export const CLOCK_SKEW_SECONDS = 30;
/** Far above any token Turkey issues; refuses absurd inputs before any parsing. */
const MAX_TOKEN_LENGTH = 4096;

export interface AccessClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  sid: string;
  email: string;
  email_verified: boolean;
}

export interface SigningKey {
  secret: string;
  issuer: string;
}

const keys = new Map<string, Uint8Array>();
function keyBytes(secret: string): Uint8Array {
  let key = keys.get(secret);
  if (!key) {
    key = new TextEncoder().encode(secret);
    keys.set(secret, key);
  }
  return key;
}

/** Signs exactly the given claims, so re-signing a recorded token reproduces it. */
export function signAccessToken(claims: Omit<AccessClaims, "iss">, key: SigningKey): Promise<string> {
  const { sub, aud, iat, exp, jti, ...custom } = claims;
  return new SignJWT(custom)
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setIssuer(key.issuer)
    .setSubject(sub)
    .setAudience(aud)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(keyBytes(key.secret));
}

/** Verifies signature and claims for the calling app; throws token_invalid / token_expired. */
export async function verifyAccessToken(
  token: string,
  key: SigningKey,
  audience: string,
  now: Date,
): Promise<AccessClaims> {
  if (token.length > MAX_TOKEN_LENGTH) throw new ApiError("token_invalid");
  try {
    const { payload } = await jwtVerify(token, keyBytes(key.secret), {
      algorithms: [ALGORITHM],
      issuer: key.issuer,
      audience,
      currentDate: now,
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ["sub", "iat", "exp", "jti", "sid"],
    });
    if ((payload.iat ?? 0) > now.getTime() / 1000 + CLOCK_SKEW_SECONDS) throw new ApiError("token_invalid");
    if (!isAccessClaims(payload)) throw new ApiError("token_invalid");
    return payload;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof errors.JWTExpired) throw new ApiError("token_expired");
    throw new ApiError("token_invalid");
  }
}

function isAccessClaims(payload: Record<string, unknown>): payload is Record<string, unknown> & AccessClaims {
  return (
    typeof payload.sub === "string" &&
    typeof payload.aud === "string" &&
    typeof payload.jti === "string" &&
    typeof payload.sid === "string" &&
    typeof payload.email === "string" &&
    typeof payload.email_verified === "boolean" &&
    typeof payload.iat === "number" &&
    typeof payload.exp === "number"
  );
}
