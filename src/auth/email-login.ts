/**
 * Sign-in without a password: a 6-digit code and a link, mailed together, either of which
 * signs in once within 10 minutes. Per app, off by default. The guarantees of the password
 * path hold here too:
 * - Requests are answered before any per-address work, so known and unknown addresses answer
 *   alike, in time too; at most one mail per address a minute, and a new one spends the last.
 * - A code has 10^6 values, so guesses are bounded twice: 5 wrong guesses spend the code (one
 *   locked statement counts them, so parallel guesses cannot overshoot), and each guess is an
 *   attempt against the account in the same limiter as passwords.
 * - The session is created through the same share-locked statement as a password login.
 * The code is stored hashed with the link's hash as salt; against someone reading the database
 * within its 10 minutes a 6-digit code cannot be protected, and the link is hashed like every
 * other token.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { emailLoginEmail } from "../email/templates";
import { ApiError } from "../errors";
import type { Attempt } from "../rate-limit";
import { EMAIL_THROTTLE_MS, emailLink } from "./email-tokens";
import { passwordIs, startSession } from "./login";
import { hashingPolicy, hashPassword } from "./passwords";
import { generateSecretToken, hashSecretToken } from "./secrets";
import type { AuthContext, TokenResponse } from "./session-context";
import { planIssue, tokenResponse } from "./sessions";
import { normaliseEmail, type UserRow, userFromSql } from "./users";

export const EMAIL_LOGIN_TTL_MS = 10 * 60_000;
export const EMAIL_LOGIN_MAX_WRONG_CODES = 5;

export type EmailLoginProof = { email: string; code: string } | { token: string };

/** Mails a code and link to the address, if it has an account or the app signs up by email. */
export async function requestEmailLogin(ctx: AuthContext, rawEmail: string): Promise<void> {
  const email = normaliseEmail(rawEmail);
  const userId = await findUserId(ctx, email);
  if (!userId && !ctx.app.emailSignup) return;
  const token = generateSecretToken();
  const tokenHash = hashSecretToken(token);
  const code = generateCode();
  const since = new Date(ctx.now.getTime() - EMAIL_THROTTLE_MS);
  const result = await ctx.db.execute(sql`
    with allowed as (
      select 1 where not exists (
        select 1 from email_logins where app_id = ${ctx.app.id} and email = ${email} and created_at > ${since})
    ), superseded as (
      update email_logins set used_at = ${ctx.now}
      where app_id = ${ctx.app.id} and email = ${email} and used_at is null and exists (select 1 from allowed)
    ), stored as (
      insert into email_logins (app_id, email, token_hash, code_hash, created_at, expires_at)
      select ${ctx.app.id}, ${email}, ${tokenHash}, ${codeHash(tokenHash, code)}, ${ctx.now},
        ${new Date(ctx.now.getTime() + EMAIL_LOGIN_TTL_MS)}
      from allowed
      returning id
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("email_login_requested", ctx.app.id, userId ?? null, ctx.client, ctx.now)} from stored
    )
    select count(*)::int as stored from stored`);
  if (result.rows[0]?.stored !== 1) return;
  const link = emailLink(ctx, "email_login", token);
  ctx.outbox?.({
    ...emailLoginEmail(ctx.app, code, link),
    to: email,
    kind: "email_login",
    appId: ctx.app.id,
    userId: userId ?? null,
  });
}

/** Signs in with the mailed code (and its address) or link; the token response of a login. */
export async function verifyEmailLogin(ctx: AuthContext, proof: EmailLoginProof): Promise<TokenResponse> {
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
    if (!(await spendCode(ctx, email, proof.code))) return refuseCode(ctx, email, attempt);
  }
  const user = await findOrCreateUser(ctx, email);
  const issue = planIssue(ctx, ctx.now, { amr: [method === "email_code" ? "otp" : "email"], aal: 1 });
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
      sql`select 1 where not exists (select 1 from mfa_factors f
        where f.user_id = ${user.id}::uuid and f.confirmed_at is not null)`,
      { method },
    ))
  ) {
    if (user && (await hasSecondFactor(ctx, user.id))) {
      await attempt?.release();
      throw new ApiError(
        "email_login_disabled",
        "Sign-in by email is not available for an account with a second factor",
      );
    }
    // Otherwise its password changed in between: this proof no longer signs in.
    if (attempt) return refuseCode(ctx, email, attempt);
    throw new ApiError("invalid_token");
  }
  await attempt?.settle(true);
  return tokenResponse(ctx, user, issue);
}

async function hasSecondFactor(ctx: AuthContext, userId: string): Promise<boolean> {
  const result = await ctx.db.execute(sql`
    select 1 from mfa_factors where user_id = ${userId}::uuid and confirmed_at is not null limit 1`);
  return result.rows.length > 0;
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
async function spendCode(ctx: AuthContext, email: string, code: string): Promise<boolean> {
  const matches = sql`e.code_hash = encode(sha256(convert_to(e.token_hash || ':' || ${code}, 'UTF8')), 'hex')`;
  const result = await ctx.db.execute(sql`
    with target as (
      select id from email_logins
      where app_id = ${ctx.app.id} and email = ${email} and used_at is null and expires_at > ${ctx.now}
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
    where token_hash = ${hashSecretToken(token)} and app_id = ${ctx.app.id}
      and used_at is null and expires_at > ${ctx.now}
    returning email`);
  const email = result.rows[0]?.email;
  return typeof email === "string" ? email : undefined;
}

async function refuseCode(ctx: AuthContext, email: string, attempt: Attempt | undefined): Promise<never> {
  const after = await attempt?.settle(false);
  const userId = await findUserId(ctx, email);
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues("email_login_failed", ctx.app.id, userId ?? null, ctx.client, ctx.now, {
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
    update users set email_verified = true, updated_at = ${ctx.now} where id = ${user.id}::uuid`);
  return { ...user, emailVerified: true };
}
