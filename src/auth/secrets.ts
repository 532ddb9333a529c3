/**
 * Opaque secret tokens (refresh, email): 256 random bits, stored only as a SHA-256 hash.
 * A fast hash is enough here: unlike passwords these have full entropy.
 */
import { createHash, createHmac } from "node:crypto";
import { toBase64Url } from "../crypto/base64url";

export function generateSecretToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return toBase64Url(bytes);
}

export function hashSecretToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * The refresh token that replaces `token` on rotation. Derived (HMAC with a server key)
 * rather than random, so a retry within the grace window can be answered with the same
 * successor instead of forking the session.
 */
export function successorRefreshToken(token: string, serverSecret: string): string {
  return toBase64Url(createHmac("sha256", `refresh-successor:${serverSecret}`).update(token).digest());
}
