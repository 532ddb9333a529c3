/**
 * Checking a passkey's signature (a WebAuthn assertion), for a passwordless sign-in or as the
 * second step after a password. In order: the challenge is spent (it must be this app's, of
 * this purpose, and for a second step this user's), the credential must be this app's (and
 * this user's), the user handle must match it, the signature, origin and RP ID must verify,
 * and the signature counter must go up. Any failure is audited with its reason.
 */
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  type PublicKeyCredentialRequestOptionsJSON,
  verifyAuthenticationResponse,
} from "@simplewebauthn/server";
import { fromBase64Url, toBase64Url } from "../crypto/base64url";
import {
  type ChallengePurpose,
  challengeOf,
  issueChallenge,
  PASSKEY_CHALLENGE_TTL_SECONDS,
  spendChallenge,
} from "./challenges";
import { type DeviceType, findPasskey, recordUse, type StoredPasskey } from "./credentials";
import { auditPasskeyFailure, type PasskeyContext, relyingPartyOf } from "./shared";

export interface Assertion {
  passkey: StoredPasskey;
  userVerified: boolean;
  deviceType: DeviceType;
}

export type AssertionFailure =
  | "challenge"
  | "unknown_credential"
  | "user_mismatch"
  | "verification_failed"
  | "counter_regressed";

/** Request options with a fresh challenge; `allow` empty asks for a discoverable passkey. */
export async function assertionOptions(
  ctx: PasskeyContext,
  purpose: Exclude<ChallengePurpose, "register">,
  userId: string | null,
  allow: { id: string; transports: string[] }[],
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const challenge = await issueChallenge(ctx, purpose, userId);
  return generateAuthenticationOptions({
    rpID: relyingPartyOf(ctx).id,
    allowCredentials: allow,
    challenge: new Uint8Array(fromBase64Url(challenge)),
    timeout: PASSKEY_CHALLENGE_TTL_SECONDS * 1000,
    userVerification: "preferred",
  });
}

/**
 * The verified assertion, or why it failed (audited). `userId` is the user a second step is
 * for (null for a passwordless sign-in, where the credential names the user).
 */
export async function verifyAssertion(
  ctx: PasskeyContext,
  response: AuthenticationResponseJSON,
  purpose: Exclude<ChallengePurpose, "register">,
  userId: string | null,
): Promise<Assertion | { failure: AssertionFailure; userId: string | null }> {
  const fail = async (failure: AssertionFailure, who: string | null) => {
    await auditPasskeyFailure(ctx, who, { purpose, reason: failure });
    return { failure, userId: who };
  };
  const challenge = challengeOf(response.response.clientDataJSON);
  if (!challenge || !(await spendChallenge(ctx, purpose, userId, challenge)))
    return fail("challenge", userId);
  const passkey = await findPasskey(ctx.db, ctx.app.id, response.id);
  if (!passkey || (userId !== null && passkey.userId !== userId)) return fail("unknown_credential", userId);
  const handle = response.response.userHandle;
  if (handle && handle !== toBase64Url(new TextEncoder().encode(passkey.userId))) {
    return fail("user_mismatch", passkey.userId);
  }
  const verified = await checkSignature(ctx, response, challenge, passkey);
  if (!verified) return fail("verification_failed", passkey.userId);
  const used = await recordUse(ctx.db, passkey, { ...verified, now: ctx.now });
  // The signature was right but the counter did not rise: possibly a cloned authenticator.
  if (!used) return fail("counter_regressed", passkey.userId);
  return { passkey, userVerified: verified.userVerified, deviceType: verified.deviceType };
}

async function checkSignature(
  ctx: PasskeyContext,
  response: AuthenticationResponseJSON,
  challenge: string,
  passkey: StoredPasskey,
): Promise<
  { counter: number; backedUp: boolean; userVerified: boolean; deviceType: DeviceType } | undefined
> {
  const rp = relyingPartyOf(ctx);
  try {
    const { verified, authenticationInfo: info } = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      // The counter is compared by the UPDATE that records it (recordUse), race-free.
      credential: {
        id: passkey.credentialId,
        publicKey: new Uint8Array(fromBase64Url(passkey.publicKey)),
        counter: 0,
      },
      requireUserVerification: false,
    });
    if (!verified) return undefined;
    return {
      counter: info.newCounter,
      backedUp: info.credentialBackedUp,
      userVerified: info.userVerified,
      deviceType: info.credentialDeviceType,
    };
  } catch {
    return undefined;
  }
}
