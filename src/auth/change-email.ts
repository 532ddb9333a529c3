/**
 * Changing the account's address, confirmed twice: the password of the signed-in user, then
 * the link mailed to the new address. The old address hears of both steps, in mails with
 * nothing to click and no text the requester chose. The change is made only if no other
 * account of the app holds the new address by then; the unique index on (email, app_id) makes
 * that final even when two confirmations for the same address race.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { confirmNewEmailEmail, emailChangedEmail, emailChangeRequestedEmail } from "../email/templates";
import { ApiError } from "../errors";
import { verifyCurrentPassword } from "./current-password";
import {
  EMAIL_TOKEN_COLUMNS,
  emailLink,
  emailTokenValues,
  notMailedRecently,
  planEmailToken,
} from "./email-tokens";
import { type EndedSessions, publishEnded, revokeSessions } from "./end-sessions";
import { hashSecretToken } from "./secrets";
import type { AuthContext } from "./session-context";
import { normaliseEmail, toUserView, type UserRow, type UserView, userFromSql } from "./users";

const REFUSED = { reason: "email_taken" };

export interface ChangeEmailInput {
  newEmail: string;
  password: string;
}

/**
 * Mails a confirmation link to the new address (at most one a minute; a new one spends the
 * last). Whether the address already has an account is not checked here, so the answer
 * tells the requester nothing about it; the confirmation refuses it.
 */
export async function requestEmailChange(
  ctx: AuthContext,
  caller: { userId: string; sessionId: string },
  input: ChangeEmailInput,
): Promise<void> {
  const user = await verifyCurrentPassword(ctx, caller.userId, input.password, "change_email");
  const newEmail = normaliseEmail(input.newEmail);
  if (newEmail === user.email) return;
  const planned = planEmailToken(ctx, "change_email");
  const result = await ctx.db.execute(sql`
    with allowed as (
      select 1 where ${notMailedRecently(ctx, "change_email", sql`${user.id}::uuid`)}
    ), superseded as (
      update email_tokens set used_at = ${ctx.now}
      where user_id = ${user.id}::uuid and kind = 'change_email' and used_at is null
        and exists (select 1 from allowed)
    ), stored as (
      insert into email_tokens (${EMAIL_TOKEN_COLUMNS}, new_email, session_id)
      select ${emailTokenValues(ctx, planned, user.id)}, ${newEmail}, ${caller.sessionId}::uuid from allowed
      returning user_id
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("email_change_requested", ctx.app.id, sql`user_id`, ctx.client, ctx.now)} from stored
    )
    select count(*)::int as stored from stored`);
  if (result.rows[0]?.stored !== 1) return;
  const link = emailLink(ctx, "change_email", planned.token);
  const mail = { appId: ctx.app.id, userId: user.id };
  ctx.outbox?.({ ...confirmNewEmailEmail(ctx.app, link), ...mail, to: newEmail, kind: "change_email" });
  ctx.outbox?.({
    ...emailChangeRequestedEmail(ctx.app),
    ...mail,
    to: user.email,
    kind: "email_change_requested",
  });
}

/**
 * Spends the link and moves the account to the new address, which is thereby verified. In
 * the same transaction every other session ends (the user's row is locked by the update, so
 * no refresh or login slips past); the one that asked keeps going and its next access token
 * carries the new address.
 */
export async function confirmEmailChange(ctx: AuthContext, token: string): Promise<UserView> {
  let changed: { user: UserRow; oldEmail: string; ended: EndedSessions } | "taken" | undefined;
  try {
    changed = await ctx.db.transaction(async (tx) => {
      const result = await tx.execute(sql`
        with spent as (
          update email_tokens set used_at = ${ctx.now}
          where token_hash = ${hashSecretToken(token)} and kind = 'change_email' and app_id = ${ctx.app.id}
            and used_at is null and expires_at > ${ctx.now}
          returning user_id, new_email, session_id
        ), old as (
          select u.id, u.email from users u join spent s on u.id = s.user_id
        ), changed as (
          update users u set email = s.new_email, email_verified = true, updated_at = ${ctx.now}
          from spent s
          where u.id = s.user_id and u.app_id = ${ctx.app.id} and not exists (
            select 1 from users other
            where other.app_id = ${ctx.app.id} and other.email = s.new_email and other.id <> u.id)
          returning u.id, u.app_id, u.email, u.email_verified, u.name, u.created_at
        )
        select c.*, old.email as old_email, s.session_id, s.user_id as spent_user
        from spent s left join changed c on c.id = s.user_id left join old on old.id = s.user_id`);
      const row = result.rows[0];
      if (!row) return undefined;
      if (row.id === null) {
        await tx.execute(sql`
          insert into audit (${AUDIT_COLUMNS})
          values (${auditValues("email_change_refused", ctx.app.id, String(row.spent_user), ctx.client, ctx.now, REFUSED)})`);
        return "taken" as const;
      }
      const user = userFromSql(row);
      const ended = await revokeSessions(tx, ctx, {
        userId: user.id,
        exceptSessionId: String(row.session_id),
        event: "email_changed",
      });
      return { user, oldEmail: String(row.old_email), ended };
    });
  } catch (error) {
    // A confirmation for the same address committed first: the unique index refused this one.
    if (!isUniqueViolation(error)) throw error;
    await spendRefusedToken(ctx, token);
    changed = "taken";
  }
  if (changed === undefined) throw new ApiError("invalid_token");
  if (changed === "taken") throw new ApiError("email_taken");
  await publishEnded(ctx, changed.ended);
  ctx.outbox?.({
    ...emailChangedEmail(ctx.app),
    to: changed.oldEmail,
    kind: "email_changed",
    appId: ctx.app.id,
    userId: changed.user.id,
  });
  return toUserView(changed.user);
}

/** The link of a refused change is spent all the same, as it is when the address was taken before. */
async function spendRefusedToken(ctx: AuthContext, token: string): Promise<void> {
  await ctx.db.execute(sql`
    with spent as (
      update email_tokens set used_at = ${ctx.now}
      where token_hash = ${hashSecretToken(token)} and kind = 'change_email' and app_id = ${ctx.app.id}
        and used_at is null
      returning user_id
    )
    insert into audit (${AUDIT_COLUMNS})
    select ${auditValues("email_change_refused", ctx.app.id, sql`user_id`, ctx.client, ctx.now, REFUSED)}
    from spent`);
}

function isUniqueViolation(error: unknown): boolean {
  for (let cause = error; cause; cause = (cause as { cause?: unknown }).cause) {
    if ((cause as { code?: unknown }).code === "23505") return true;
  }
  return false;
}
