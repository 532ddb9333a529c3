/**
 * The second step of a sign-in with a second factor: mfaToken + TOTP code or recovery code →
 * a session with aal 2 and the first step's amr plus `otp` (["pwd","otp"] after a password); or
 * mfaToken + a passkey's signature → the first step's amr plus `hwk` (device-bound) or `swk`
 * (synced). Each try is reserved with the account's attempt limit (the lockout counts wrong
 * codes and refused passkeys like wrong passwords) and claims one of the token's
 * MFA_MAX_GUESSES; the session is created through the share-locked path of a password login,
 * in the same statement that spends the token.
 */
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { isDisabled, passwordDigestIs, startSession } from "../auth/login";
import {
  type Challenge,
  claimGuess,
  findChallenge,
  passkeyFirst,
  secondFactorSignIn,
  spendChallenge,
} from "../auth/mfa-challenges";
import type { AuthContext, TokenResponse } from "../auth/session-context";
import { planIssue, tokenResponse } from "../auth/sessions";
import { userFromSql } from "../auth/users";
import { ApiError } from "../errors";
import { assertionOptions, verifyAssertion } from "../passkeys/assertion";
import { credentialsOf } from "../passkeys/credentials";
import { passkeyMethod } from "../passkeys/login";
import type { Attempt } from "../rate-limit";
import { acceptSecondFactor, type SecondFactor } from "./factors";

/** A second factor: a code, a recovery code, or a passkey's signed response. */
export type SecondStep = SecondFactor | { passkey: AuthenticationResponseJSON };

/** Request options naming the passkeys of the user an mfaToken is for. */
export async function mfaPasskeyOptions(
  ctx: AuthContext,
  mfaToken: string,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const challenge = await findChallenge(ctx, mfaToken);
  if (!challenge) throw new ApiError("mfa_token_invalid");
  if (passkeyFirst(challenge.firstAmr)) throw new ApiError("mfa_not_enrolled");
  const allow = await credentialsOf(ctx.db, ctx.app.id, challenge.userId);
  if (allow.length === 0) throw new ApiError("mfa_not_enrolled");
  return assertionOptions(ctx, "mfa", challenge.userId, allow);
}

export async function verifyMfa(
  ctx: AuthContext,
  input: { mfaToken: string } & SecondStep,
): Promise<TokenResponse> {
  const challenge = await findChallenge(ctx, input.mfaToken);
  if (!challenge) throw new ApiError("mfa_token_invalid");
  const attempt = await ctx.attempts?.(challenge.email)(ctx.now.getTime());
  if (!(await claimGuess(ctx, challenge.id))) {
    await attempt?.release();
    throw new ApiError("mfa_token_invalid");
  }
  const method = await acceptSecondStep(ctx, challenge, input);
  if (!method)
    return refuse(ctx, challenge, attempt, "passkey" in input ? "passkey_invalid" : "invalid_mfa_code");

  const issue = planIssue(ctx, ctx.now, secondFactorSignIn(challenge.firstAmr, method));
  const started = await startSession(
    ctx,
    challenge.userId,
    passwordDigestIs(challenge.passwordDigest),
    issue,
    undefined,
    spendChallenge(ctx, challenge.id),
  );
  if (!started) {
    // Disabled by an operator, spent by a parallel request, expired, or the password changed meanwhile.
    await attempt?.release();
    throw new ApiError((await isDisabled(ctx, challenge.userId)) ? "account_disabled" : "mfa_token_invalid");
  }
  await attempt?.settle(true);
  const user = await ctx.db.execute(sql`
    select id, app_id, email, email_verified, name, created_at from users where id = ${challenge.userId}::uuid`);
  return tokenResponse(ctx, userFromSql(user.rows[0] ?? {}), issue);
}

/** The RFC 8176 method the second step proved, or undefined when it is wrong. */
async function acceptSecondStep(
  ctx: AuthContext,
  challenge: Challenge,
  input: SecondStep,
): Promise<"otp" | "hwk" | "swk" | undefined> {
  const { userId } = challenge;
  if (!("passkey" in input)) return (await acceptSecondFactor(ctx, userId, input)) ? "otp" : undefined;
  // Possession of a passkey was the first factor already; the second must be another.
  if (passkeyFirst(challenge.firstAmr)) return undefined;
  const assertion = await verifyAssertion(ctx, input.passkey, "mfa", userId);
  return "failure" in assertion ? undefined : passkeyMethod(assertion);
}

/** Counts the wrong factor towards the account's lockout, audits it, answers with `code`. */
async function refuse(
  ctx: AuthContext,
  challenge: Challenge,
  attempt: Attempt | undefined,
  code: "invalid_mfa_code" | "passkey_invalid",
): Promise<never> {
  const after = await attempt?.settle(false);
  const locked = sql`, (${auditValues("account_locked", ctx.app.id, challenge.userId, ctx.client, ctx.now, {
    email: challenge.email,
    failures: after?.failures,
    lockedForSeconds: after?.retryAfterSeconds,
  })})`;
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues("mfa_failed", ctx.app.id, challenge.userId, ctx.client, ctx.now, {})})
    ${after?.lockedNow ? locked : sql``}`);
  throw new ApiError(code);
}
