/**
 * Apple's client secret is not a fixed string but a short JWT signed with the app's Sign in
 * with Apple key (.p8). When the stored secret is that key (with its team and key id), Turkey
 * signs a fresh one for each code exchange; a stored string is used as it is.
 */
import { importPKCS8, SignJWT } from "jose";

interface AppleKey {
  teamId: string;
  keyId: string;
  privateKey: string;
}

const LIFETIME_SECONDS = 300;

export async function appleClientSecret(stored: string, clientId: string, audience: string, now: Date) {
  const key = parseKey(stored);
  if (!key) return stored;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: key.keyId })
    .setIssuer(key.teamId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + LIFETIME_SECONDS)
    .sign(await importPKCS8(key.privateKey, "ES256"));
}

function parseKey(stored: string): AppleKey | undefined {
  if (!stored.startsWith("{")) return undefined;
  const parsed = JSON.parse(stored) as Partial<AppleKey>;
  if (!parsed.teamId || !parsed.keyId || !parsed.privateKey) return undefined;
  return { teamId: parsed.teamId, keyId: parsed.keyId, privateKey: parsed.privateKey };
}
