/**
 * Sign-up for one app's user pool. Identity is (app, normalised email).
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { existingAccountEmail } from "../email/templates";
import { ApiError } from "../errors";
import {
  EMAIL_TOKEN_COLUMNS,
  emailLink,
  emailTokenValues,
  notMailedRecently,
  planEmailToken,
  storeThrottledToken,
  tokenEmail,
} from "./email-tokens";
import { endSessions } from "./end-sessions";
import { checkPasswordPolicy, hashingPolicy, hashPassword } from "./passwords";
import type { AuthContext, TokenResponse } from "./session-context";
import { newSessionRow, planIssue, REFRESH_COLUMNS, tokenResponse } from "./sessions";
import { dropUnvouchedIdentities } from "./unvouched-identities";
import { findUserByEmail, normaliseEmail, toUserView, type UserView, userFromSql } from "./users";

export interface RegisterInput {
  email: string;
  password: string;
  name?: string | undefined;
}

export type RegisterResult = TokenResponse | { user: UserView; verificationRequired: true };

/**
 * Creates the user, its verification token and (unless verification is required) its first
 * session in one statement. A taken email is 409 email_taken — or, when verification is
 * required, answered exactly like a new registration: an unverified account (never usable)
 * is replaced, its links spent, and only the mailbox can complete it; a verified one is left
 * alone while its owner is mailed instead.
 */
export async function register(ctx: AuthContext, input: RegisterInput): Promise<RegisterResult> {
  checkPasswordPolicy(input.password, ctx.config.passwordMinLength);
  const email = normaliseEmail(input.email);
  const passwordHash = await hashPassword(input.password, hashingPolicy(ctx.config));
  const pending = ctx.config.requireEmailVerification;
  const issue = planIssue(ctx);
  const verification = planEmailToken(ctx, "verify_email");
  const onConflict = pending
    ? sql`on conflict (email, app_id) do update set password_hash = excluded.password_hash, password_set = true,
        name = excluded.name, created_at = excluded.created_at, updated_at = excluded.updated_at
        where users.email_verified = false`
    : sql`on conflict (email, app_id) do nothing`;
  const session = pending
    ? sql``
    : sql`, session as (insert into refresh_tokens (${REFRESH_COLUMNS}) select ${newSessionRow(ctx, issue, sql`id`)} from created)`;
  const result = await ctx.db.execute(sql`
    with created as (
      insert into users (app_id, email, name, password_hash, created_at, updated_at)
      values (${ctx.app.id}, ${email}, ${input.name ?? null}, ${passwordHash}, ${ctx.now}, ${ctx.now})
      ${onConflict}
      returning id, app_id, email, email_verified, name, created_at, (xmax = 0) as inserted
    ), unvouched as (
      ${dropUnvouchedIdentities(sql`select id from created where not inserted`)}
    ), spent as (
      update email_tokens set used_at = ${ctx.now}
      where user_id in (select id from created where not inserted) and used_at is null
    ), token as (
      insert into email_tokens (${EMAIL_TOKEN_COLUMNS})
      select ${emailTokenValues(ctx, verification, sql`id`)} from created
      where inserted or ${notMailedRecently(ctx, "verify_email", sql`created.id`)}
      returning user_id
    ) ${session}, audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("register", ctx.app.id, sql`id`, ctx.client, ctx.now, {})} from created where inserted
      union all select ${auditValues("register", ctx.app.id, sql`id`, ctx.client, ctx.now, { replacedPending: true })}
        from created where not inserted
      union all select ${auditValues("verification_sent", ctx.app.id, sql`user_id`, ctx.client, ctx.now)} from token
    )
    select *, exists (select 1 from token) as mailed from created`);
  const row = result.rows[0];
  if (!row) {
    if (!pending) throw new ApiError("email_taken");
    await mailExistingAccount(ctx, email);
    return { user: lookalikeUser(ctx, email, input.name), verificationRequired: true };
  }
  const user = userFromSql(row);
  // A replaced account may hold sessions from before verification was required.
  if (!row.inserted) await endSessions(ctx, { userId: user.id });
  if (row.mailed) ctx.outbox?.(tokenEmail(ctx, user, verification));
  return pending ? { user: toUserView(user), verificationRequired: true } : tokenResponse(ctx, user, issue);
}

/** Tells the owner of a taken email about the attempt, with a way back in (throttled). */
async function mailExistingAccount(ctx: AuthContext, email: string): Promise<void> {
  const owner = await findUserByEmail(ctx.db, ctx.app.id, email);
  if (!owner) return;
  const planned = planEmailToken(ctx, "reset_password");
  if (!(await storeThrottledToken(ctx, owner.id, planned))) return;
  const content = existingAccountEmail(ctx.app, emailLink(ctx, "reset_password", planned.token));
  ctx.outbox?.({
    ...content,
    to: owner.email,
    kind: "existing_account",
    appId: ctx.app.id,
    userId: owner.id,
  });
}

/** What a new registration would have answered, so a taken email cannot be told apart. */
function lookalikeUser(ctx: AuthContext, email: string, name: string | undefined): UserView {
  return {
    id: crypto.randomUUID(),
    appId: ctx.app.id,
    email,
    emailVerified: false,
    name: name ?? null,
    createdAt: ctx.now.toISOString(),
  };
}
