/**
 * Sign-in without a password: a 6-digit code and a link, mailed together, either of which
 * signs in once within 10 minutes. Per app, off by default. The guarantees of the password
 * path hold here too:
 * - Requests are answered before any per-address work, so known and unknown addresses answer
 *   alike, in time too; at most one mail per address a minute, and a new one spends the last.
 * - A code has 10^6 values, so guesses are bounded twice: 5 wrong guesses spend the code (one
 *   locked statement counts them, so parallel guesses cannot overshoot), and each guess is an
 *   attempt against the account in the same limiter as passwords.
 * - The session is created through the same share-locked statement as a password login; an
 *   account with a second factor gets `mfaRequired` instead, as after a password.
 * - A hosted page (`/pages/<appId>/email-login`) that consumes the link hands the sign-in to
 *   the browser that asked, by a one-time code and the PKCE challenge sent with the request
 *   (src/auth/handoff.ts); without a challenge the link cannot be consumed there.
 * The same table keeps the codes that re-prove the address before an account is deleted
 * (purpose `delete_account`, no link): a user without a password has no other.
 * The code is stored hashed with the link's hash as salt; against someone reading the database
 * within its 10 minutes a 6-digit code cannot be protected, and the link is hashed like every
 * other token.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, type AuditEvent, auditValues } from "../audit";
import { deletionCodeEmail, emailLoginEmail } from "../email/templates";
import { ApiError } from "../errors";
import type { Attempt } from "../rate-limit";
import { EMAIL_THROTTLE_MS, emailLink } from "./email-tokens";
import { issueHandoffCode } from "./handoff";
import { passwordIs, startSession } from "./login";
import { hasSecondFactor, issueMfaChallenge, type MfaRequired, withoutSecondFactor } from "./mfa-challenges";
import { hashingPolicy, hashPassword } from "./passwords";
import { generateSecretToken, hashSecretToken } from "./secrets";
import type { AuthContext, TokenResponse } from "./session-context";
import { planIssue, tokenResponse } from "./sessions";
import { dropUnvouchedIdentities } from "./unvouched-identities";
import { normaliseEmail, type UserRow, userFromSql } from "./users";

export const EMAIL_LOGIN_TTL_MS = 10 * 60_000;
export const EMAIL_LOGIN_MAX_WRONG_CODES = 5;

export type EmailLoginProof = { email: string; code: string } | { token: string };

/** What a mailed code is for; a code of one purpose never serves the other. */
export type CodePurpose = "sign_in" | "delete_account";

/**
 * Mails a code and link to the address, if it has an account or the app signs up by email.
 * `codeChallenge` (S256) lets a hosted page hand the sign-in back to this browser.
 */
export async function requestEmailLogin(
  ctx: AuthContext,
  rawEmail: string,
  codeChallenge?: string,
): Promise<void> {
  const email = normaliseEmail(rawEmail);
  const userId = await findUserId(ctx, email);
  if (!userId && !ctx.app.emailSignup) return;
  const stored = await storeCode(ctx, email, userId ?? null, "sign_in", codeChallenge);
  if (!stored) return;
  const link = emailLink(ctx, "email_login", stored.token);
  const code = stored.code;
  ctx.outbox?.({
    ...emailLoginEmail(ctx.app, code, link),
    to: email,
    kind: "email_login",
    appId: ctx.app.id,
    userId: userId ?? null,
  });
}

/**
 * Stores a new code (and link) for the address unless one of the same purpose was mailed in the
 * last minute; spends the address's earlier live ones. Undefined when throttled.
 */
async function storeCode(
  ctx: AuthContext,
  email: string,
  userId: string | null,
  purpose: CodePurpose,
  codeChallenge?: string,
): Promise<{ token: string; code: string } | undefined> {
  const token = generateSecretToken();
  const tokenHash = hashSecretToken(token);
  const code = generateCode();
  const since = new Date(ctx.now.getTime() - EMAIL_THROTTLE_MS);
  const mine = sql`app_id = ${ctx.app.id} and email = ${email} and purpose = ${purpose}`;
  const result = await ctx.db.execute(sql`
    with allowed as (
      select 1 where not exists (select 1 from email_logins where ${mine} and created_at > ${since})
    ), superseded as (
      update email_logins set used_at = ${ctx.now}
      where ${mine} and used_at is null and exists (select 1 from allowed)
    ), stored as (
      insert into email_logins (app_id, email, purpose, token_hash, code_hash, code_challenge, created_at, expires_at)
      select ${ctx.app.id}, ${email}, ${purpose}, ${tokenHash}, ${codeHash(tokenHash, code)}, ${codeChallenge ?? null},
        ${ctx.now}, ${new Date(ctx.now.getTime() + EMAIL_LOGIN_TTL_MS)}
      from allowed
      returning id
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues(purpose === "sign_in" ? "email_login_requested" : "deletion_code_requested", ctx.app.id, userId, ctx.client, ctx.now)} from stored
    )
    select count(*)::int as stored from stored`);
  return result.rows[0]?.stored === 1 ? { token, code } : undefined;
}

/**
 * Signs in with the mailed code (and its address) or link: the token response of a login, or
 * `mfaRequired` for an account with a second factor (a mailed code proves the mailbox only).
 */
export async function verifyEmailLogin(
  ctx: AuthContext,
  proof: EmailLoginProof,
): Promise<TokenResponse | MfaRequired> {
  const method = "token" in proof ? "email_link" : "email_code";
  let attempt: Attempt | undefined;
  let email: string | undefined;
  if ("token" in proof) {
    email = await spendLink(ctx, proof.token);
    if (!email) throw new ApiError("invalid_token");
  } else {
    email = normaliseEmail(proof.email);
    // Reserved before the code is judged, keyed by address whether or not it has an account.
    attempt = await ctx.attempts?.(email)(ctx.now.getTime());
    if (!(await spendCode(ctx, email, proof.code, "sign_in"))) return refuseCode(ctx, email, attempt);
  }
  const user = await findOrCreateUser(ctx, email);
  const amr = [method === "email_code" ? "otp" : "email"];
  const issue = planIssue(ctx, ctx.now, { amr, aal: 1 });
  // The session starts only if the account has no confirmed second factor: a mailed code proves
  // the mailbox only, and never stands in for a factor. Checked in the statement that starts the
  // session (confirming a factor locks the user's row, which it share-locks), so the common path
  // pays no extra round trip. Undefined user: the account was deleted meanwhile.
  if (
    !user ||
    !(await startSession(
      ctx,
      user.id,
      passwordIs(user.passwordHash),
      issue,
      undefined,
      withoutSecondFactor(user.id),
      { method },
    ))
  ) {
    if (user && (await enrolled(ctx, user.id))) {
      // Neither success nor failure yet: the second factor's guesses count towards the lockout.
      await attempt?.release();
      return issueMfaChallenge(ctx, user.id, user.passwordHash, amr);
    }
    // Otherwise its password changed in between: this proof no longer signs in.
    if (attempt) return refuseCode(ctx, email, attempt);
    throw new ApiError("invalid_token");
  }
  await attempt?.settle(true);
  return tokenResponse(ctx, user, issue);
}

/**
 * A hosted page consumed the link: hands the sign-in to the browser that asked for it, and
 * returns where to send this one (the app's URL with a one-time `code`). A link asked for
 * without a PKCE challenge cannot be consumed here (its tokens would have nowhere safe to go):
 * `invalid_token`, and the mail's code still works in the app.
 */
export async function handOffEmailLink(ctx: AuthContext, token: string): Promise<URL> {
  const result = await ctx.db.execute(sql`
    update email_logins set used_at = ${ctx.now}
    where token_hash = ${hashSecretToken(token)} and app_id = ${ctx.app.id} and purpose = 'sign_in'
      and code_challenge is not null and used_at is null and expires_at > ${ctx.now}
    returning email, code_challenge`);
  const row = result.rows[0];
  if (!row) throw new ApiError("invalid_token");
  const user = await findOrCreateUser(ctx, String(row.email));
  if (!user) throw new ApiError("invalid_token");
  const code = await issueHandoffCode(ctx, {
    userId: user.id,
    codeChallenge: String(row.code_challenge),
    amr: ["email"],
    method: "email_link",
  });
  const target = new URL(ctx.app.url);
  target.searchParams.set("code", code);
  return target;
}

/** Whether the link can be handed to the app from a hosted page (live, asked with a challenge). */
export async function linkCanHandOff(ctx: AuthContext, token: string): Promise<boolean> {
  const result = await ctx.db.execute(sql`
    select 1 from email_logins
    where token_hash = ${hashSecretToken(token)} and app_id = ${ctx.app.id} and purpose = 'sign_in'
      and code_challenge is not null and used_at is null and expires_at > ${ctx.now}`);
  return result.rows.length > 0;
}

/** Mails the signed-in user a code that confirms the deletion of their account. */
export async function requestDeletionCode(ctx: AuthContext, userId: string): Promise<void> {
  const result = await ctx.db.execute(
    sql`select email from users where id = ${userId}::uuid and app_id = ${ctx.app.id}`,
  );
  const email = result.rows[0]?.email;
  if (typeof email !== "string") return;
  const stored = await storeCode(ctx, email, userId, "delete_account");
  if (!stored) return;
  ctx.outbox?.({
    ...deletionCodeEmail(ctx.app, stored.code),
    to: email,
    kind: "deletion_code",
    appId: ctx.app.id,
    userId,
  });
}

/**
 * Judges a deletion code for the signed-in user: right → true (spent); wrong → counted against
 * the code and the account's lockout, then `invalid_code`.
 */
export async function verifyDeletionCode(ctx: AuthContext, userId: string, code: string): Promise<void> {
  const result = await ctx.db.execute(
    sql`select email from users where id = ${userId}::uuid and app_id = ${ctx.app.id}`,
  );
  const email = result.rows[0]?.email;
  if (typeof email !== "string") throw new ApiError("token_invalid");
  const attempt = await ctx.attempts?.(email)(ctx.now.getTime());
  if (!(await spendCode(ctx, email, code, "delete_account")))
    return refuseCode(ctx, email, attempt, "deletion_code_failed");
  await attempt?.settle(true);
}

async function enrolled(ctx: AuthContext, userId: string): Promise<boolean> {
  const result = await ctx.db.execute(sql`select ${hasSecondFactor(sql`${userId}::uuid`)} as enrolled`);
  return result.rows[0]?.enrolled === true;
}

/** A uniform 6-digit code: rejection sampling, so no value is likelier than another. */
export function generateCode(): string {
  const limit = 4_294_000_000; // the largest multiple of 10^6 below 2^32
  for (;;) {
    const [value = limit] = crypto.getRandomValues(new Uint32Array(1));
    if (value < limit) return String(value % 1_000_000).padStart(6, "0");
  }
}

/** The hash stored for a code; Postgres computes the same from a guess (spendCode). */
function codeHash(tokenHash: string, code: string): string {
  return hashSecretToken(`${tokenHash}:${code}`);
}

/**
 * Judges a guess against the address's newest live code, in one statement that locks the
 * row: a right guess spends it; a wrong one counts, and the fifth spends it.
 */
async function spendCode(
  ctx: AuthContext,
  email: string,
  code: string,
  purpose: CodePurpose,
): Promise<boolean> {
  const matches = sql`e.code_hash = encode(sha256(convert_to(e.token_hash || ':' || ${code}, 'UTF8')), 'hex')`;
  const result = await ctx.db.execute(sql`
    with target as (
      select id from email_logins
      where app_id = ${ctx.app.id} and email = ${email} and purpose = ${purpose}
        and used_at is null and expires_at > ${ctx.now}
      order by created_at desc limit 1
      for update
    )
    update email_logins e set
      failed_attempts = e.failed_attempts + case when ${matches} then 0 else 1 end,
      used_at = case
        when ${matches} or e.failed_attempts + 1 >= ${EMAIL_LOGIN_MAX_WRONG_CODES} then ${ctx.now}::timestamptz
      end
    from target where e.id = target.id and e.used_at is null
    returning ${matches} as ok`);
  return result.rows[0]?.ok === true;
}

/** Spends a live link of this app; returns its address. */
async function spendLink(ctx: AuthContext, token: string): Promise<string | undefined> {
  const result = await ctx.db.execute(sql`
    update email_logins set used_at = ${ctx.now}
    where token_hash = ${hashSecretToken(token)} and app_id = ${ctx.app.id} and purpose = 'sign_in'
      and used_at is null and expires_at > ${ctx.now}
    returning email`);
  const email = result.rows[0]?.email;
  return typeof email === "string" ? email : undefined;
}

async function refuseCode(
  ctx: AuthContext,
  email: string,
  attempt: Attempt | undefined,
  event: AuditEvent = "email_login_failed",
): Promise<never> {
  const after = await attempt?.settle(false);
  const userId = await findUserId(ctx, email);
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues(event, ctx.app.id, userId ?? null, ctx.client, ctx.now, {
      email,
      lockedNow: after?.lockedNow ?? false,
    })})`);
  throw new ApiError("invalid_code");
}

async function findUserId(ctx: AuthContext, email: string): Promise<string | undefined> {
  const result = await ctx.db.execute(
    sql`select id from users where email = ${email} and app_id = ${ctx.app.id}`,
  );
  const id = result.rows[0]?.id;
  return typeof id === "string" ? id : undefined;
}

type SigningInUser = UserRow & { passwordHash: string };

/**
 * The address's account, verified now (the mail proved the address); created first when the
 * app signs up by email. A new account gets a random password nobody knows, hashed like any
 * other, so it answers password logins like every account ("forgot password" sets a real one).
 */
async function findOrCreateUser(ctx: AuthContext, email: string): Promise<SigningInUser | undefined> {
  const found = await verifyAddress(ctx, email);
  if (found || !ctx.app.emailSignup) return found;
  const passwordHash = await hashPassword(generateSecretToken(), hashingPolicy(ctx.config));
  const result = await ctx.db.execute(sql`
    with created as (
      insert into users (app_id, email, email_verified, password_hash, created_at, updated_at)
      values (${ctx.app.id}, ${email}, true, ${passwordHash}, ${ctx.now}, ${ctx.now})
      on conflict (email, app_id) do nothing
      returning ${USER_FIELDS}
    ), registered as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("register", ctx.app.id, sql`id`, ctx.client, ctx.now, { method: "email" })} from created
    )
    select * from created`);
  const row = result.rows[0];
  // None when a parallel sign-in created the account first: use that one.
  return row ? { ...userFromSql(row), passwordHash } : verifyAddress(ctx, email);
}

const USER_FIELDS = sql`id, app_id, email, email_verified, name, created_at, password_hash`;

async function verifyAddress(ctx: AuthContext, email: string): Promise<SigningInUser | undefined> {
  const result = await ctx.db.execute(sql`
    select ${USER_FIELDS} from users where email = ${email} and app_id = ${ctx.app.id}`);
  const row = result.rows[0];
  if (!row) return undefined;
  const user = { ...userFromSql(row), passwordHash: String(row.password_hash) };
  if (user.emailVerified) return user;
  await ctx.db.execute(sql`
    with unvouched as (${dropUnvouchedIdentities(sql`select ${user.id}::uuid`)})
    update users set email_verified = true, updated_at = ${ctx.now} where id = ${user.id}::uuid`);
  return { ...user, emailVerified: true };
}
