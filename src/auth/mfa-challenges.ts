/**
 * A sign-in that still needs its second factor (after a password, a mailed code or link, or a
 * provider). The first step's amr is kept, and the second step's extends it. The mfaToken is 256 random bits,
 * stored only as a hash, single-use, valid MFA_TOKEN_TTL_SECONDS, bound to the app, the user
 * and the password hash it was issued for (a password change in between voids it). Every
 * code tried against it is claimed first by one conditional UPDATE, so no more than
 * MFA_MAX_GUESSES are ever checked, however many requests arrive at once.
 */
import { type SQL, sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { generateSecretToken, hashSecretToken } from "./secrets";
import type { AuthContext } from "./session-context";
import type { SignIn } from "./sessions";

export const MFA_TOKEN_TTL_SECONDS = 300;
export const MFA_MAX_GUESSES = 5;

/** SQL: the user (a uuid expression) has a confirmed second factor. */
export function hasSecondFactor(userId: SQL): SQL {
  return sql`exists (select 1 from mfa_factors f where f.user_id = ${userId} and f.confirmed_at is not null)`;
}

/**
 * A claim for startSession: the user has no confirmed second factor. Confirming one locks the
 * user's row, which startSession share-locks, so a factor confirmed meanwhile is not skipped.
 */
export function withoutSecondFactor(userId: string): SQL {
  return sql`select 1 where not ${hasSecondFactor(sql`${userId}::uuid`)}`;
}

export type MfaMethod = "totp" | "recovery_code" | "passkey";

export interface MfaRequired {
  mfaRequired: true;
  mfaToken: string;
  methods: MfaMethod[];
}

/**
 * Issues the mfaToken for a user whose first factor was just verified. `verifiedHash` is the
 * user's password hash as read then (a password change in between voids the token).
 */
export async function issueMfaChallenge(
  ctx: Pick<AuthContext, "db" | "app" | "client" | "now">,
  userId: string,
  verifiedHash: string,
  firstAmr: readonly string[] = ["pwd"],
): Promise<MfaRequired> {
  const amr = sql.join(
    firstAmr.map((method) => sql`${method}`),
    sql`, `,
  );
  const mfaToken = generateSecretToken();
  const expiresAt = new Date(ctx.now.getTime() + MFA_TOKEN_TTL_SECONDS * 1000);
  const result = await ctx.db.execute(sql`
    with issued as (
      insert into mfa_challenges (app_id, user_id, token_hash, password_digest, first_amr, created_at, expires_at)
      values (${ctx.app.id}, ${userId}::uuid, ${hashSecretToken(mfaToken)}, ${hashSecretToken(verifiedHash)},
        array[${amr}]::text[], ${ctx.now}, ${expiresAt})
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      values (${auditValues("mfa_challenged", ctx.app.id, userId, ctx.client, ctx.now, { amr: firstAmr })})
    )
    select exists (select 1 from passkeys where user_id = ${userId}::uuid and app_id = ${ctx.app.id}) as has_passkey`);
  const methods: MfaMethod[] = ["totp", "recovery_code"];
  if (result.rows[0]?.has_passkey === true && !passkeyFirst(firstAmr)) methods.push("passkey");
  return { mfaRequired: true, mfaToken, methods };
}

export interface Challenge {
  id: string;
  userId: string;
  email: string;
  passwordDigest: string;
  /** How the first step signed in. */
  firstAmr: string[];
}

/** The live challenge of this app with this token, with its user's email, or undefined. */
export async function findChallenge(ctx: AuthContext, mfaToken: string): Promise<Challenge | undefined> {
  const result = await ctx.db.execute(sql`
    select c.id, c.user_id, c.password_digest, c.first_amr, u.email
    from mfa_challenges c join users u on u.id = c.user_id
    where c.token_hash = ${hashSecretToken(mfaToken)} and c.app_id = ${ctx.app.id}
      and c.used_at is null and c.expires_at > ${ctx.now} and c.attempts < ${MFA_MAX_GUESSES}`);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    id: String(row.id),
    userId: String(row.user_id),
    email: String(row.email),
    passwordDigest: String(row.password_digest),
    firstAmr: row.first_amr as string[],
  };
}

/** The first step was a passkey (without user verification): a passkey cannot be the second. */
export function passkeyFirst(firstAmr: readonly string[]): boolean {
  return firstAmr.includes("hwk") || firstAmr.includes("swk");
}

/**
 * The sign-in of both steps: the first step's methods and then the second's (RFC 8176). When
 * both were one-time codes (a mailed code, then TOTP) the list alone cannot show two factors,
 * so it says `mfa`.
 */
export function secondFactorSignIn(firstAmr: readonly string[], second: string): SignIn {
  const amr = [...new Set([...firstAmr, second])];
  return { amr: amr.length > 1 ? amr : [...amr, "mfa"], aal: 2 };
}

/** Claims one guess against the challenge; false once it is used, expired or out of guesses. */
export async function claimGuess(ctx: AuthContext, challengeId: string): Promise<boolean> {
  const result = await ctx.db.execute(sql`
    update mfa_challenges set attempts = attempts + 1
    where id = ${challengeId}::uuid and used_at is null and expires_at > ${ctx.now}
      and attempts < ${MFA_MAX_GUESSES}
    returning id`);
  return result.rows.length === 1;
}

/** A CTE body spending the challenge; the session starts only if it returns a row. */
export function spendChallenge(ctx: AuthContext, challengeId: string): SQL {
  return sql`update mfa_challenges set used_at = ${ctx.now}
    where id = ${challengeId}::uuid and used_at is null and expires_at > ${ctx.now}
    returning id`;
}
