/**
 * Sign-in with a password. An unknown email is answered exactly like a wrong password, after
 * the same hashing work; every attempt is reserved with the account's attempt limit first.
 * With a second factor enabled, a right password yields only an mfaToken (src/mfa).
 */
import { type SQL, sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { ApiError } from "../errors";
import type { Attempt } from "../rate-limit";
import { hasSecondFactor, issueMfaChallenge, type MfaRequired } from "./mfa-challenges";
import {
  checkPasswordPolicy,
  hashingPolicy,
  hashPassword,
  verifyAgainstDummy,
  verifyPassword,
} from "./passwords";
import type { AuthContext, TokenResponse } from "./session-context";
import { type Issue, newSessionRow, planIssue, REFRESH_COLUMNS, tokenResponse } from "./sessions";
import { normaliseEmail, userFromSql } from "./users";

export interface LoginInput {
  email: string;
  password: string;
}

export async function login(ctx: AuthContext, input: LoginInput): Promise<TokenResponse | MfaRequired> {
  checkPasswordPolicy(input.password, 1);
  const email = normaliseEmail(input.email);
  // Reserved before any hashing (so parallel guesses are counted), and keyed by email whether
  // or not it has an account (so a lockout reveals nothing).
  const attempt = await ctx.attempts?.(email)(ctx.now.getTime());
  const found = await ctx.db.execute(sql`
    select id, app_id, email, email_verified, name, created_at, password_hash, disabled_at,
      ${hasSecondFactor(sql`users.id`)} as has_mfa
    from users where email = ${email} and app_id = ${ctx.app.id}`);
  const row = found.rows[0];
  const policy = hashingPolicy(ctx.config);
  // Hash anyway for unknown emails: both failures must cost the same time.
  const verdict = row
    ? await verifyPassword(input.password, String(row.password_hash), policy)
    : { ok: await verifyAgainstDummy(input.password, policy), needsRehash: false };
  const user = row && verdict.ok ? userFromSql(row) : undefined;
  if (!user) return refuseLogin(ctx, email, row ? String(row.id) : null, attempt);
  // Said only to whoever knows the password.
  if (row?.disabled_at) return refuseDisabled(ctx, email, user.id, attempt);
  if (ctx.config.requireEmailVerification && !user.emailVerified) {
    await attempt?.settle(true);
    throw new ApiError("email_not_verified");
  }

  const verifiedHash = String(row?.password_hash);
  if (row?.has_mfa === true) {
    // Neither success nor failure yet: the second factor's guesses count towards the lockout,
    // so a right password must not clear the failures before them.
    await attempt?.release();
    return issueMfaChallenge(ctx, user.id, verifiedHash);
  }

  const issue = planIssue(ctx);
  // Upgrade a hash made with weaker parameters while we hold the plaintext.
  const rehash = verdict.needsRehash ? await hashPassword(input.password, policy) : undefined;
  if (!(await startSession(ctx, user.id, passwordIs(verifiedHash), issue, rehash))) {
    // Disabled meanwhile, or the password changed while this one was being checked.
    if (await isDisabled(ctx, user.id)) return refuseDisabled(ctx, email, user.id, attempt);
    return refuseLogin(ctx, email, user.id, attempt);
  }
  await attempt?.settle(true);
  return tokenResponse(ctx, user, issue);
}

/** The user's password hash is still the one verified. */
export function passwordIs(verifiedHash: string): SQL {
  return sql`password_hash = ${verifiedHash}`;
}

/** The user's password hash is still the one whose digest was recorded (pending sign-ins). */
export function passwordDigestIs(digest: string): SQL {
  return sql`encode(sha256(convert_to(password_hash, 'UTF8')), 'hex') = ${digest}`;
}

/**
 * Creates the session, and stores the upgraded hash, only if the hash that was verified is
 * still the user's: the share lock (exclusive when rehashing) on the user's row orders this
 * against a password reset or change, which ends sessions in the same transaction.
 * A disabled user starts none. For a sign-in by email, the hash verified is the one read with
 * the user.
 * `claim`, when given, is a data-modifying statement (spending a pending sign-in) that must
 * return a row for the session to start.
 */
export async function startSession(
  ctx: AuthContext,
  userId: string,
  passwordUnchanged: SQL,
  issue: Issue,
  rehash?: string,
  claim?: SQL,
  extraDetails: Record<string, unknown> = {},
): Promise<boolean> {
  const rehashed = rehash
    ? sql`, rehashed as (
        update users set password_hash = ${rehash}, updated_at = ${ctx.now} where id in (select id from current))`
    : sql``;
  const claimed = claim ? sql`claimed as (${claim}), ` : sql``;
  const starting = claim
    ? sql`current as (select id from locked where exists (select 1 from claimed))`
    : sql`current as (select id from locked)`;
  const details = issue.signIn.aal === 2 ? { ...extraDetails, amr: issue.signIn.amr } : extraDetails;
  const result = await ctx.db.execute(sql`
    with locked as (
      select id from users
      where id = ${userId}::uuid and app_id = ${ctx.app.id} and ${passwordUnchanged} and disabled_at is null
      ${rehash ? sql`for update` : sql`for share`}
    ), ${claimed}${starting} ${rehashed}, session as (
      insert into refresh_tokens (${REFRESH_COLUMNS}) select ${newSessionRow(ctx, issue, sql`id`)} from current
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("login_succeeded", ctx.app.id, sql`id`, ctx.client, ctx.now, details)} from current
    )
    select count(*)::int as started from current`);
  return result.rows[0]?.started === 1;
}

/** Whether an operator disabled the user (src/admin/users.ts). */
export async function isDisabled(ctx: Pick<AuthContext, "db">, userId: string): Promise<boolean> {
  const result = await ctx.db.execute(
    sql`select 1 from users where id = ${userId}::uuid and disabled_at is not null`,
  );
  return result.rows.length > 0;
}

async function refuseDisabled(
  ctx: AuthContext,
  email: string,
  userId: string,
  attempt: Attempt | undefined,
): Promise<never> {
  // The password was right: not a failed guess.
  await attempt?.settle(true);
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues("login_failed", ctx.app.id, userId, ctx.client, ctx.now, { email, reason: "account_disabled" })})`);
  throw new ApiError("account_disabled");
}

/** Records the failure (and a lock it causes) and answers invalid_credentials. */
async function refuseLogin(
  ctx: AuthContext,
  email: string,
  userId: string | null,
  attempt: Attempt | undefined,
): Promise<never> {
  const after = await attempt?.settle(false);
  const reason = userId ? "wrong_password" : "unknown_email";
  const lockedNow = sql`, (${auditValues("account_locked", ctx.app.id, userId, ctx.client, ctx.now, {
    email,
    failures: after?.failures,
    lockedForSeconds: after?.retryAfterSeconds,
  })})`;
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues("login_failed", ctx.app.id, userId, ctx.client, ctx.now, { email, reason })})
    ${after?.lockedNow ? lockedNow : sql``}`);
  throw new ApiError("invalid_credentials");
}
