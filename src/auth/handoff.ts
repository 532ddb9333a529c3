/**
 * Hands a sign-in finished on Turkey's side (a provider's callback, a hosted page that consumed
 * a mailed link) to the app's page, without putting tokens in a URL: the browser is sent back
 * with a one-time code, which the app's page exchanges at `POST /v1/auth/token` with the PKCE
 * verifier only it holds (RFC 7636, S256).
 * - The code is 256 random bits, stored hashed, valid 60 seconds, bound to the app.
 * - Any exchange spends it, right verifier or not: a stolen code gets one try, and the
 *   verifier (43+ random characters) cannot be guessed in one.
 * - The session starts through the share-locked path of a password login; a user with a
 *   confirmed second factor gets `mfaRequired` instead, carrying the first step's amr.
 */
import { sql } from "drizzle-orm";
import { calculatePKCECodeChallenge } from "oauth4webapi";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { ApiError } from "../errors";
import { isDisabled, passwordIs, startSession } from "./login";
import { hasSecondFactor, issueMfaChallenge, type MfaRequired, withoutSecondFactor } from "./mfa-challenges";
import { generateSecretToken, hashSecretToken } from "./secrets";
import type { AuthContext, TokenResponse } from "./session-context";
import { planIssue, tokenResponse } from "./sessions";
import { userFromSql } from "./users";

export const HANDOFF_TTL_MS = 60_000;

export interface Handoff {
  userId: string;
  /** The S256 challenge the app's page sent when the sign-in started. */
  codeChallenge: string;
  /** How the user signed in on Turkey's side (RFC 8176). */
  amr: string[];
  /** The sign-in method the audit records (`email_link`, `oauth:github` …). */
  method: string;
}

/** Stores a hand-off and returns its one-time code, to be put in the redirect to the app. */
export async function issueHandoffCode(
  ctx: Pick<AuthContext, "db" | "app" | "now">,
  handoff: Handoff,
): Promise<string> {
  const code = generateSecretToken();
  const amr = sql.join(
    handoff.amr.map((method) => sql`${method}`),
    sql`, `,
  );
  await ctx.db.execute(sql`
    insert into handoff_codes (app_id, user_id, code_hash, code_challenge, amr, method, created_at, expires_at)
    values (${ctx.app.id}, ${handoff.userId}::uuid, ${hashSecretToken(code)}, ${handoff.codeChallenge},
      array[${amr}]::text[], ${handoff.method}, ${ctx.now}, ${new Date(ctx.now.getTime() + HANDOFF_TTL_MS)})`);
  return code;
}

export interface CodeExchange {
  code: string;
  codeVerifier: string;
}

/** `POST /v1/auth/token` with `grant_type=authorization_code`: the code and the verifier → a sign-in. */
export async function exchangeHandoffCode(
  ctx: AuthContext,
  input: CodeExchange,
): Promise<TokenResponse | MfaRequired> {
  const handoff = await spendCode(ctx, input.code);
  if (!handoff) throw new ApiError("invalid_grant");
  if ((await calculatePKCECodeChallenge(input.codeVerifier)) !== handoff.codeChallenge) {
    await ctx.db.execute(sql`
      insert into audit (${AUDIT_COLUMNS})
      values (${auditValues("handoff_refused", ctx.app.id, handoff.userId, ctx.client, ctx.now, {
        method: handoff.method,
        reason: "code_verifier",
      })})`);
    throw new ApiError("invalid_grant");
  }
  const found = await ctx.db.execute(sql`
    select id, app_id, email, email_verified, name, created_at, password_hash, disabled_at,
      ${hasSecondFactor(sql`users.id`)} as has_mfa
    from users where id = ${handoff.userId}::uuid and app_id = ${ctx.app.id}`);
  const row = found.rows[0];
  if (!row) throw new ApiError("invalid_grant");
  if (row.disabled_at) throw new ApiError("account_disabled");
  const user = userFromSql(row);
  if (ctx.config.requireEmailVerification && !user.emailVerified) throw new ApiError("email_not_verified");
  const verifiedHash = String(row.password_hash);
  if (row.has_mfa === true) return issueMfaChallenge(ctx, user.id, verifiedHash, handoff.amr);

  const issue = planIssue(ctx, ctx.now, { amr: handoff.amr, aal: 1 });
  // A factor confirmed between the read and here is checked again as the session starts.
  const noSecondFactor = withoutSecondFactor(user.id);
  const started = await startSession(
    ctx,
    user.id,
    passwordIs(verifiedHash),
    issue,
    undefined,
    noSecondFactor,
    {
      method: handoff.method,
    },
  );
  if (started) return tokenResponse(ctx, user, issue);
  if (await isDisabled(ctx, user.id)) throw new ApiError("account_disabled");
  // A second factor was confirmed, or the password changed, meanwhile: start over.
  throw new ApiError("invalid_grant");
}

async function spendCode(ctx: AuthContext, code: string): Promise<Handoff | undefined> {
  const result = await ctx.db.execute(sql`
    update handoff_codes set used_at = ${ctx.now}
    where code_hash = ${hashSecretToken(code)} and app_id = ${ctx.app.id}
      and used_at is null and expires_at > ${ctx.now}
    returning user_id, code_challenge, amr, method`);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    userId: String(row.user_id),
    codeChallenge: String(row.code_challenge),
    amr: row.amr as string[],
    method: String(row.method),
  };
}
