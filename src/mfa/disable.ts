/**
 * Turning a second factor off needs both the password and the factor (a code or a recovery
 * code): a stolen access token alone must not be able to remove it. One reserved attempt of
 * the account covers both, so guesses here count towards the lockout like sign-in guesses.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { hashingPolicy, verifyAgainstDummy, verifyPassword } from "../auth/passwords";
import type { AuthContext } from "../auth/session-context";
import { ApiError } from "../errors";
import { acceptSecondFactor, deleteTotp, type SecondFactor } from "./factors";

export async function disableTotp(
  ctx: AuthContext,
  userId: string,
  input: { password: string } & SecondFactor,
): Promise<void> {
  const found = await ctx.db.execute(sql`
    select u.email, u.password_hash from users u
    join mfa_factors f on f.user_id = u.id and f.kind = 'totp' and f.confirmed_at is not null
    where u.id = ${userId}::uuid and u.app_id = ${ctx.app.id}`);
  const row = found.rows[0];
  if (!row) {
    await verifyAgainstDummy(input.password, hashingPolicy(ctx.config));
    throw new ApiError("mfa_not_enrolled");
  }
  const attempt = await ctx.attempts?.(String(row.email))(ctx.now.getTime());
  const passwordOk = (
    await verifyPassword(input.password, String(row.password_hash), hashingPolicy(ctx.config))
  ).ok;
  // The factor is only tried after the right password, so a wrong one spends no recovery code.
  const factorOk = passwordOk && (await acceptSecondFactor(ctx, userId, input));
  if (!factorOk) {
    const after = await attempt?.settle(false);
    await ctx.db.execute(sql`
      insert into audit (${AUDIT_COLUMNS})
      values (${auditValues("mfa_disable_failed", ctx.app.id, userId, ctx.client, ctx.now, {
        reason: passwordOk ? "wrong_code" : "wrong_password",
        lockedNow: after?.lockedNow ?? false,
      })})`);
    throw new ApiError(passwordOk ? "invalid_mfa_code" : "invalid_credentials");
  }
  await attempt?.settle(true);
  await deleteTotp(ctx.db, { appId: ctx.app.id, userId }, ctx);
}
