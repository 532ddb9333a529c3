/**
 * Flows that go through the user's mailbox: email verification and password reset, plus
 * password change. Requests for an email are answered before any per-account work (which
 * runs after the response), so known and unknown addresses answer alike, in time too.
 */
import { type SQL, sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { ApiError } from "../errors";
import {
  type AccountEmailKind,
  type EmailTokenKind,
  planEmailToken,
  storeThrottledToken,
  tokenEmail,
} from "./email-tokens";
import { type EndedSessions, publishEnded, revokeSessions } from "./end-sessions";
import { isDisabled } from "./login";
import {
  checkPasswordPolicy,
  hashingPolicy,
  hashPassword,
  verifyAgainstDummy,
  verifyPassword,
} from "./passwords";
import { hashSecretToken } from "./secrets";
import type { AuthContext } from "./session-context";
import { dropUnvouchedIdentities } from "./unvouched-identities";
import {
  findUserByEmail,
  normaliseEmail,
  toUserView,
  type UserRow,
  type UserView,
  userFromSql,
} from "./users";

/** Mails a fresh token of this kind to the email's account, if there is one. */
export async function requestEmailToken(
  ctx: AuthContext,
  rawEmail: string,
  kind: AccountEmailKind,
): Promise<void> {
  const user = await findUserByEmail(ctx.db, ctx.app.id, normaliseEmail(rawEmail));
  // A disabled account gets no mail: no flow works for it.
  if (!user || (await isDisabled(ctx, user.id))) return;
  if (kind === "verify_email" && user.emailVerified) return;
  await sendEmailToken(ctx, user, kind);
}

export async function sendEmailToken(ctx: AuthContext, user: UserRow, kind: AccountEmailKind): Promise<void> {
  const planned = planEmailToken(ctx, kind);
  if (!(await storeThrottledToken(ctx, user.id, planned))) return;
  ctx.outbox?.(tokenEmail(ctx, user, planned));
  const event = kind === "verify_email" ? "verification_sent" : "password_reset_requested";
  await audit(ctx, event, user.id);
}

/** Spends a verification token of this app and marks the email verified. */
export async function verifyEmail(ctx: AuthContext, token: string): Promise<UserView> {
  const result = await ctx.db.execute(sql`
    with spent as (${spendToken(ctx, "verify_email", token)}), unvouched as (
      ${dropUnvouchedIdentities(sql`select user_id from spent`)}
    ), verified as (
      update users set email_verified = true, updated_at = ${ctx.now}
      where id in (select user_id from spent)
      returning id, app_id, email, email_verified, name, created_at
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("email_verified", ctx.app.id, sql`id`, ctx.client, ctx.now)} from verified
    )
    select * from verified`);
  const row = result.rows[0];
  if (!row) return refuseToken(ctx, "verify_email", token);
  return toUserView(userFromSql(row));
}

/**
 * Sets a new password from a reset token. In one transaction: the token and every other
 * outstanding reset token of the user are spent, the password is replaced (which locks the
 * user's row, so logins and refreshes in flight are ordered around it), and every session
 * and live access token of the user in this app ends. Then every lock on the account clears.
 */
export async function resetPassword(ctx: AuthContext, token: string, password: string): Promise<UserView> {
  checkPasswordPolicy(password, ctx.config.passwordMinLength);
  const passwordHash = await hashPassword(password, hashingPolicy(ctx.config));
  const done = await ctx.db.transaction(async (tx) => {
    const result = await tx.execute(sql`
      with spent as (${spendToken(ctx, "reset_password", token)}), unvouched as (
        ${dropUnvouchedIdentities(sql`select user_id from spent`)}
      ), others as (
        update email_tokens set used_at = ${ctx.now}
        where kind = 'reset_password' and used_at is null and user_id in (select user_id from spent)
      ), updated as (
        -- Following the emailed link also proves the address.
        update users set password_hash = ${passwordHash}, password_set = true, email_verified = true,
          updated_at = ${ctx.now}
        where id in (select user_id from spent)
        returning id, app_id, email, email_verified, name, created_at
      ), audited as (
        insert into audit (${AUDIT_COLUMNS})
        select ${auditValues("password_reset", ctx.app.id, sql`id`, ctx.client, ctx.now)} from updated
      )
      select * from updated`);
    const row = result.rows[0];
    if (!row) return undefined;
    const user = userFromSql(row);
    return { user, ended: await revokeSessions(tx, ctx, { userId: user.id }) };
  });
  if (!done) return refuseToken(ctx, "reset_password", token);
  await publishEnded(ctx, done.ended);
  await ctx.clearAttempts?.(done.user.email);
  return toUserView(done.user);
}

export interface ChangePasswordInput {
  currentPassword: string;
  newPassword: string;
}

/**
 * Changes the password of a signed-in user. Guesses of the current password count against
 * the account like login attempts. The new hash is stored only over the one that was verified,
 * in the transaction that spends outstanding reset links and ends every other session.
 */
export async function changePassword(
  ctx: AuthContext,
  caller: { userId: string; sessionId: string },
  input: ChangePasswordInput,
): Promise<UserView> {
  checkPasswordPolicy(input.currentPassword, 1, "currentPassword");
  checkPasswordPolicy(input.newPassword, ctx.config.passwordMinLength, "newPassword");
  const found = await ctx.db.execute(sql`
    select id, app_id, email, email_verified, name, created_at, password_hash from users
    where id = ${caller.userId}::uuid and app_id = ${ctx.app.id}`);
  const row = found.rows[0];
  const policy = hashingPolicy(ctx.config);
  if (!row) {
    await verifyAgainstDummy(input.currentPassword, policy);
    throw new ApiError("invalid_credentials");
  }
  const user = userFromSql(row);
  const attempt = await ctx.attempts?.(user.email)(ctx.now.getTime());
  const verifiedHash = String(row.password_hash);
  const ended = (await verifyPassword(input.currentPassword, verifiedHash, policy)).ok
    ? await replacePassword(ctx, caller, verifiedHash, await hashPassword(input.newPassword, policy))
    : undefined;
  const settled = await attempt?.settle(ended !== undefined);
  if (!ended) {
    await audit(ctx, "password_change_failed", user.id, { lockedNow: settled?.lockedNow ?? false });
    throw new ApiError("invalid_credentials");
  }
  await publishEnded(ctx, ended);
  return toUserView(user);
}

/** Undefined when the verified hash is no longer the user's (changed meanwhile). */
async function replacePassword(
  ctx: AuthContext,
  caller: { userId: string; sessionId: string },
  verifiedHash: string,
  newHash: string,
): Promise<EndedSessions | undefined> {
  return ctx.db.transaction(async (tx) => {
    const result = await tx.execute(sql`
      with updated as (
        update users set password_hash = ${newHash}, updated_at = ${ctx.now}
        where id = ${caller.userId}::uuid and app_id = ${ctx.app.id} and password_hash = ${verifiedHash}
        returning id
      ), spent as (
        update email_tokens set used_at = ${ctx.now}
        where kind = 'reset_password' and used_at is null and user_id in (select id from updated)
      )
      select count(*)::int as changed from updated`);
    if (result.rows[0]?.changed !== 1) return undefined;
    // Audited there, as the sessions end.
    return revokeSessions(tx, ctx, {
      userId: caller.userId,
      exceptSessionId: caller.sessionId,
      event: "password_changed",
    });
  });
}

/** Marks a live token of this kind and app used, returning its user_id (none if not live). */
function spendToken(ctx: AuthContext, kind: EmailTokenKind, token: string): SQL {
  return sql`
    update email_tokens set used_at = ${ctx.now}
    where token_hash = ${hashSecretToken(token)} and kind = ${kind} and app_id = ${ctx.app.id}
      and used_at is null and expires_at > ${ctx.now}
      and user_id in (select id from users where app_id = ${ctx.app.id} and disabled_at is null)
    returning user_id`;
}

/** Why a token was not spent: account_disabled when it is live but its user is disabled. */
async function refuseToken(ctx: AuthContext, kind: EmailTokenKind, token: string): Promise<never> {
  const result = await ctx.db.execute(sql`
    select 1 from email_tokens t join users u on u.id = t.user_id
    where t.token_hash = ${hashSecretToken(token)} and t.kind = ${kind} and t.app_id = ${ctx.app.id}
      and t.used_at is null and t.expires_at > ${ctx.now} and u.disabled_at is not null`);
  throw new ApiError(result.rows.length > 0 ? "account_disabled" : "invalid_token");
}

async function audit(
  ctx: AuthContext,
  event: "verification_sent" | "password_reset_requested" | "password_change_failed",
  userId: string,
  details: Record<string, unknown> = {},
) {
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues(event, ctx.app.id, userId, ctx.client, ctx.now, details)})`);
}
