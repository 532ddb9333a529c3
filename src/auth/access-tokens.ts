/**
 * Access tokens: short-lived JWTs, audience = the appId, signed with the one configured key
 * (HS256 with JWT_SECRET by default). Verification pins that algorithm, the issuer and the
 * audience, so a token of app A is worthless to app B and `alg: none` or a key-confusion
 * attempt can never be accepted.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { ApiError } from "../errors";
import { keyMaterial, type SigningKey } from "./signing-keys";

export type { SigningKey } from "./signing-keys";
/**
 * Tolerated clock difference for `iat` only. None on `exp`: Turkey signs and verifies on one
 * clock, and every revocation record is kept until `exp` — a tolerance there would let a
 * revoked token work again once its record expired.
 */
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
  /** How the user signed in (RFC 8176): ["pwd"], ["pwd","otp"], … */
  amr: string[];
  /** Authenticator assurance level: 2 once a second factor (or a verified passkey) was used. */
  aal: 1 | 2;
}

/** Signs exactly the given claims, so re-signing a recorded token reproduces it. */
export async function signAccessToken(claims: Omit<AccessClaims, "iss">, key: SigningKey): Promise<string> {
  const { sub, aud, iat, exp, jti, ...custom } = claims;
  const material = await keyMaterial(key);
  return new SignJWT(custom)
    .setProtectedHeader({ alg: material.alg, typ: "JWT", ...(material.kid ? { kid: material.kid } : {}) })
    .setIssuer(key.issuer)
    .setSubject(sub)
    .setAudience(aud)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(material.signWith);
}

/** Verifies signature and claims for the calling app; throws token_invalid / token_expired. */
export async function verifyAccessToken(
  token: string,
  key: SigningKey,
  audience: string,
  now: Date,
): Promise<AccessClaims> {
  if (token.length > MAX_TOKEN_LENGTH) throw new ApiError("token_invalid");
  const material = await keyMaterial(key);
  try {
    const { payload } = await jwtVerify(token, material.verifyWith, {
      algorithms: [material.alg],
      issuer: key.issuer,
      audience,
      currentDate: now,
      clockTolerance: 0,
      requiredClaims: ["sub", "iat", "exp", "jti", "sid"],
    });
    if ((payload.iat ?? 0) > now.getTime() / 1000 + CLOCK_SKEW_SECONDS) throw new ApiError("token_invalid");
    if (!isAccessClaims(payload)) throw new ApiError("token_invalid");
    // Tokens signed before amr and aal existed were all password sign-ins.
    return { ...payload, amr: payload.amr ?? ["pwd"], aal: payload.aal ?? 1 };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof errors.JWTExpired) throw new ApiError("token_expired");
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
    typeof payload.exp === "number"
  );
}
