/**
 * Sign-up and sign-in for one app's user pool. Identity is (app, normalised email).
 * Login answers an unknown email exactly like a wrong password, after the same hashing work.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { existingAccountEmail } from "../email/templates";
import { ApiError } from "../errors";
import {
  EMAIL_TOKEN_COLUMNS,
  emailLink,
  emailTokenValues,
  planEmailToken,
  storeThrottledToken,
  tokenEmail,
} from "./email-tokens";
import {
  checkPasswordPolicy,
  hashingPolicy,
  hashPassword,
  verifyAgainstDummy,
  verifyPassword,
} from "./passwords";
import type { AuthContext, TokenResponse } from "./session-context";
import { newSessionRow, planIssue, REFRESH_COLUMNS, tokenResponse } from "./sessions";
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
 * required, answered exactly like a new registration while the owner is mailed instead.
 */
export async function register(ctx: AuthContext, input: RegisterInput): Promise<RegisterResult> {
  checkPasswordPolicy(input.password, ctx.config.passwordMinLength);
  const email = normaliseEmail(input.email);
  const passwordHash = await hashPassword(input.password, hashingPolicy(ctx.config));
  const pending = ctx.config.requireEmailVerification;
  const issue = planIssue(ctx);
  const verification = planEmailToken(ctx, "verify_email");
  const session = pending
    ? sql``
    : sql`, session as (insert into refresh_tokens (${REFRESH_COLUMNS}) select ${newSessionRow(ctx, issue, sql`id`)} from created)`;
  const result = await ctx.db.execute(sql`
    with created as (
      insert into users (app_id, email, name, password_hash, created_at, updated_at)
      values (${ctx.app.id}, ${email}, ${input.name ?? null}, ${passwordHash}, ${ctx.now}, ${ctx.now})
      on conflict (email, app_id) do nothing
      returning id, app_id, email, email_verified, name, created_at
    ), token as (
      insert into email_tokens (${EMAIL_TOKEN_COLUMNS}) select ${emailTokenValues(ctx, verification, sql`id`)} from created
    ) ${session}, audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("register", ctx.app.id, sql`id`, ctx.client, ctx.now)} from created
      union all select ${auditValues("verification_sent", ctx.app.id, sql`id`, ctx.client, ctx.now)} from created
    )
    select * from created`);
  const row = result.rows[0];
  if (!row) {
    if (!pending) throw new ApiError("email_taken");
    await mailExistingAccount(ctx, email);
    return { user: lookalikeUser(ctx, email, input.name), verificationRequired: true };
  }
  const user = userFromSql(row);
  ctx.outbox?.(tokenEmail(ctx, user, verification));
  return pending ? { user: toUserView(user), verificationRequired: true } : tokenResponse(ctx, user, issue);
}

/** Tells the owner of a taken email about the attempt, with a way back in (throttled). */
async function mailExistingAccount(ctx: AuthContext, email: string): Promise<void> {
  const owner = await findUserByEmail(ctx.db, ctx.app.id, email);
  if (!owner) return;
  const planned = planEmailToken(ctx, "reset_password");
  if (!(await storeThrottledToken(ctx, owner.id, planned))) return;
  const content = existingAccountEmail(
    ctx.app,
    emailLink(ctx.app, "reset_password", planned.token),
    owner.name,
  );
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

export interface LoginInput {
  email: string;
  password: string;
}

export async function login(ctx: AuthContext, input: LoginInput): Promise<TokenResponse> {
  checkPasswordPolicy(input.password, 1);
  const email = normaliseEmail(input.email);
  // Keyed by email whether or not it has an account, so a lockout reveals nothing.
  const lockout = ctx.lockout?.(email);
  const nowMs = ctx.now.getTime();
  const lock = await lockout?.check(nowMs);
  if (lock?.locked) throw tooManyAttempts(lock.retryAfterSeconds);
  const found = await ctx.db.execute(sql`
    select id, app_id, email, email_verified, name, created_at, password_hash
    from users where email = ${email} and app_id = ${ctx.app.id}`);
  const row = found.rows[0];
  const policy = hashingPolicy(ctx.config);
  // Hash anyway for unknown emails: both failures must cost the same time.
  const verdict = row
    ? await verifyPassword(input.password, String(row.password_hash), policy)
    : { ok: await verifyAgainstDummy(input.password, policy), needsRehash: false };

  if (!row || !verdict.ok) {
    const after = await lockout?.recordFailure(nowMs);
    const userId = row ? String(row.id) : null;
    const reason = row ? "wrong_password" : "unknown_email";
    const lockedNow = sql`, (${auditValues("account_locked", ctx.app.id, userId, ctx.client, ctx.now, {
      email,
      failures: after?.failures,
      lockedForSeconds: after?.retryAfterSeconds,
    })})`;
    await ctx.db.execute(sql`
      insert into audit (${AUDIT_COLUMNS})
      values (${auditValues("login_failed", ctx.app.id, userId, ctx.client, ctx.now, { email, reason })})
      ${after?.locked ? lockedNow : sql``}`);
    throw new ApiError("invalid_credentials");
  }
  if (lock && lock.failures > 0) await lockout?.clear();

  const user = userFromSql(row);
  if (ctx.config.requireEmailVerification && !user.emailVerified) throw new ApiError("email_not_verified");
  const issue = planIssue(ctx);
  // Upgrade a hash made with weaker parameters while we hold the plaintext.
  const rehash = verdict.needsRehash
    ? sql`, rehashed as (
        update users set password_hash = ${await hashPassword(input.password, policy)}, updated_at = ${ctx.now}
        where id = ${user.id}::uuid)`
    : sql``;
  await ctx.db.execute(sql`
    with session as (
      insert into refresh_tokens (${REFRESH_COLUMNS}) values (${newSessionRow(ctx, issue, user.id)})
    ) ${rehash}
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues("login_succeeded", ctx.app.id, user.id, ctx.client, ctx.now)})`);
  return tokenResponse(ctx, user, issue);
}

function tooManyAttempts(retryAfterSeconds: number): ApiError {
  return new ApiError("too_many_attempts", undefined, undefined, {
    "Retry-After": String(retryAfterSeconds),
  });
}
