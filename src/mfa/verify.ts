/**
 * The second step of a sign-in with a second factor: mfaToken + TOTP code or recovery code →
 * a session with aal 2 and the first step's amr plus `otp` (["pwd","otp"] after a password). Each try is reserved with the account's attempt
 * limit (the lockout counts wrong codes like wrong passwords) and claims one of the token's
 * MFA_MAX_GUESSES; the session is created through the share-locked path of a password login,
 * in the same statement that spends the token.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { isDisabled, passwordDigestIs, startSession } from "../auth/login";
import type { AuthContext, TokenResponse } from "../auth/session-context";
import { planIssue, tokenResponse } from "../auth/sessions";
import { userFromSql } from "../auth/users";
import { ApiError } from "../errors";
import type { Attempt } from "../rate-limit";
import { type Challenge, claimGuess, findChallenge, secondFactorSignIn, spendChallenge } from "./challenges";
import { acceptSecondFactor, type SecondFactor } from "./factors";

export async function verifyMfa(
  ctx: AuthContext,
  input: { mfaToken: string } & SecondFactor,
): Promise<TokenResponse> {
  const challenge = await findChallenge(ctx, input.mfaToken);
  if (!challenge) throw new ApiError("mfa_token_invalid");
  const attempt = await ctx.attempts?.(challenge.email)(ctx.now.getTime());
  if (!(await claimGuess(ctx, challenge.id))) {
    await attempt?.release();
    throw new ApiError("mfa_token_invalid");
  }
  if (!(await acceptSecondFactor(ctx, challenge.userId, input))) return refuse(ctx, challenge, attempt);

  const issue = planIssue(ctx, ctx.now, secondFactorSignIn(challenge.firstAmr, "otp"));
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

/** Counts the wrong code towards the account's lockout, audits it, answers invalid_mfa_code. */
async function refuse(ctx: AuthContext, challenge: Challenge, attempt: Attempt | undefined): Promise<never> {
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
  throw new ApiError("invalid_mfa_code");
}
