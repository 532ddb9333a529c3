/**
 * Sessions: a family of refresh-token rows, one per issue. Each row also records the access
 * token issued with it (jti, expiry), so ending a session or every session of a user can
 * revoke every live access token without a lookup on the verify path.
 */
import { type SQL, sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { ApiError } from "../errors";
import { signAccessToken } from "./access-tokens";
import { endSessions } from "./end-sessions";
import { generateSecretToken, hashSecretToken, successorRefreshToken } from "./secrets";
import {
  type AuthContext,
  type IssueContext,
  signingKey,
  type TokenResponse,
  withDatabase,
} from "./session-context";
import { toUserView, type UserRow, userFromSql } from "./users";

/** The tokens of one issue, computed before the row that records them is written. */
export interface Issue {
  sessionId: string;
  refreshToken: string;
  jti: string;
  issuedAt: Date;
  accessExpiresAt: Date;
  refreshExpiresAt: Date;
  /** How the user signed in, carried by every token of the session. */
  signIn: SignIn;
}

/** RFC 8176 authentication method references and the assurance level they reach. */
export interface SignIn {
  amr: string[];
  aal: 1 | 2;
}

export const PASSWORD_SIGN_IN: SignIn = { amr: ["pwd"], aal: 1 };

/** The sign-in a session row records (amr text[], aal smallint). */
export function signInFromSql(row: Record<string, unknown>): SignIn {
  return { amr: row.amr as string[], aal: Number(row.aal) === 2 ? 2 : 1 };
}

/**
 * The tokens of a new issue. `sessionCreatedAt` caps the refresh expiry at SESSION_MAX_AGE
 * from the sign-in, so refreshing never extends a session past it.
 */
export function planIssue(
  ctx: IssueContext,
  sessionCreatedAt: Date = ctx.now,
  signIn: SignIn = PASSWORD_SIGN_IN,
): Issue {
  const issuedAtSeconds = Math.floor(ctx.now.getTime() / 1000);
  const refreshExpiresMs = Math.min(
    ctx.now.getTime() + ctx.config.refreshTtlSeconds * 1000,
    sessionCreatedAt.getTime() + ctx.config.sessionMaxAgeSeconds * 1000,
  );
  return {
    sessionId: crypto.randomUUID(),
    refreshToken: generateSecretToken(),
    jti: crypto.randomUUID(),
    issuedAt: new Date(issuedAtSeconds * 1000),
    accessExpiresAt: new Date(
      Math.min(issuedAtSeconds + ctx.config.accessTtlSeconds, Math.floor(refreshExpiresMs / 1000)) * 1000,
    ),
    refreshExpiresAt: new Date(refreshExpiresMs),
    signIn,
  };
}

/** Columns and values of a new session's first refresh row, for an INSERT … SELECT. */
export function newSessionRow(ctx: IssueContext, issue: Issue, userId: SQL | string): SQL {
  const user = typeof userId === "string" ? sql`${userId}::uuid` : userId;
  const amr = sql.join(
    issue.signIn.amr.map((method) => sql`${method}`),
    sql`, `,
  );
  return sql`${ctx.app.id}, ${user}, ${issue.sessionId}::uuid, ${hashSecretToken(issue.refreshToken)},
    ${issue.jti}, ${issue.accessExpiresAt}, ${issue.issuedAt}, ${issue.refreshExpiresAt},
    ${issue.issuedAt}, ${ctx.client.userAgent}, ${ctx.client.ip}, array[${amr}]::text[], ${issue.signIn.aal}`;
}

export const REFRESH_COLUMNS = sql`app_id, user_id, session_id, token_hash, access_jti, access_expires_at,
  created_at, expires_at, session_created_at, user_agent, ip, amr, aal`;

export async function tokenResponse(ctx: IssueContext, user: UserRow, issue: Issue): Promise<TokenResponse> {
  const accessToken = await signAccessToken(
    {
      sub: user.id,
      aud: ctx.app.id,
      client_id: ctx.app.id,
      iat: issue.issuedAt.getTime() / 1000,
      exp: issue.accessExpiresAt.getTime() / 1000,
      jti: issue.jti,
      sid: issue.sessionId,
      email: user.email,
      email_verified: user.emailVerified,
      amr: issue.signIn.amr,
      aal: issue.signIn.aal,
    },
    signingKey(ctx.config, withDatabase(ctx.db)),
  );
  return {
    user: toUserView(user),
    accessToken,
    refreshToken: issue.refreshToken,
    tokenType: "Bearer",
    expiresIn: ctx.config.accessTtlSeconds,
    refreshExpiresIn: Math.round((issue.refreshExpiresAt.getTime() - ctx.now.getTime()) / 1000),
  };
}

/**
 * Exchanges a refresh token for a new pair. The normal case is one statement: share-lock the
 * user (so an ending of sessions either waits for this refresh or makes it find the token
 * revoked), spend the token (only if live), insert its successor, audit, and read the user —
 * atomic, so two concurrent refreshes can never both spend it.
 */
export async function refreshSession(ctx: AuthContext, refreshToken: string): Promise<TokenResponse> {
  const hash = hashSecretToken(refreshToken);
  const successor = successorRefreshToken(refreshToken, ctx.config.jwtSecret);
  const issue = { ...planIssue(ctx), refreshToken: successor };
  const windowStart = new Date(ctx.now.getTime() - REFRESH_WINDOW_MS);
  const sessionEnd = sql`session_created_at + ${ctx.config.sessionMaxAgeSeconds} * interval '1 second'`;
  const result = await ctx.db.execute(sql`
    with owner as (
      select u.id from refresh_tokens r join users u on u.id = r.user_id
      where r.token_hash = ${hash} and r.app_id = ${ctx.app.id} and u.disabled_at is null
      for share of u
    ), spent as (
      update refresh_tokens set rotated_at = ${ctx.now}
      where token_hash = ${hash} and app_id = ${ctx.app.id}
        and rotated_at is null and revoked_at is null and expires_at > ${ctx.now}
        and user_id in (select id from owner)
        -- The chain of one session is sequential, so counting its rows counts its refreshes exactly.
        and (select count(*) from refresh_tokens chain
             where chain.session_id = refresh_tokens.session_id and chain.created_at > ${windowStart})
            <= ${REFRESH_MAX_PER_SESSION}
      returning user_id, session_id, session_created_at, amr, aal
    ), successor as (
      insert into refresh_tokens (${REFRESH_COLUMNS})
      select ${ctx.app.id}, user_id, session_id, ${hashSecretToken(successor)}, ${issue.jti},
        least(${issue.accessExpiresAt}::timestamptz, date_trunc('second', ${sessionEnd})), ${issue.issuedAt},
        least(${issue.refreshExpiresAt}::timestamptz, ${sessionEnd}), session_created_at,
        ${ctx.client.userAgent}, ${ctx.client.ip}, amr, aal
      from spent
      returning user_id, session_id, access_expires_at, expires_at, amr, aal
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("refresh", ctx.app.id, sql`user_id`, ctx.client, ctx.now, {})} from successor
    )
    select u.id, u.app_id, u.email, u.email_verified, u.name, u.created_at,
      s.session_id, s.access_expires_at, s.expires_at as refresh_expires_at, s.amr, s.aal
    from successor s join users u on u.id = s.user_id`);
  const row = result.rows[0];
  if (row) {
    return tokenResponse(ctx, userFromSql(row), {
      ...issue,
      sessionId: String(row.session_id),
      accessExpiresAt: new Date(row.access_expires_at as string),
      refreshExpiresAt: new Date(row.refresh_expires_at as string),
      signIn: signInFromSql(row),
    });
  }
  return refreshSlowPath(ctx, hash, successor);
}

/**
 * Why a refresh token was not spent: a retry within the grace window, reuse, the session's
 * refresh budget, or plain invalid.
 */
async function refreshSlowPath(ctx: AuthContext, hash: string, successor: string): Promise<TokenResponse> {
  const windowStart = new Date(ctx.now.getTime() - REFRESH_WINDOW_MS);
  const result = await ctx.db.execute(sql`
    select r.token_hash, r.app_id, r.user_id, r.session_id, r.rotated_at, r.revoked_at, r.expires_at,
      r.access_jti, r.access_expires_at, r.created_at as issued_at, r.amr, r.aal,
      u.id, u.email, u.email_verified, u.name, u.created_at, u.disabled_at,
      (select min(created_at) from refresh_tokens chain
       where chain.session_id = r.session_id and chain.created_at > ${windowStart}) as window_oldest
    from refresh_tokens r join users u on u.id = r.user_id
    where r.token_hash in (${hash}, ${hashSecretToken(successor)}) and r.app_id = ${ctx.app.id}`);
  const presented = result.rows.find((row) => row.token_hash === hash);
  if (!presented) throw new ApiError("invalid_refresh_token");
  // Disabling revokes every session too; the holder of a once-valid token learns why.
  if (presented.disabled_at) throw new ApiError("account_disabled");
  if (presented.revoked_at) throw new ApiError("invalid_refresh_token");
  if (!presented.rotated_at) {
    if (new Date(presented.expires_at as string) <= ctx.now) throw new ApiError("refresh_token_expired");
    // Live and unspent, yet not spent above: the session has used up its refresh budget.
    throw sessionOverBudget(ctx, new Date(presented.window_oldest as string));
  }

  const rotatedAgoMs = ctx.now.getTime() - new Date(presented.rotated_at as string).getTime();
  const next = result.rows.find((row) => row.token_hash !== hash);
  if (rotatedAgoMs <= ctx.config.refreshReuseGraceSeconds * 1000 && next && !next.revoked_at) {
    // A retry (second tab, lost response): answer with the same successor, re-signed from its row.
    return tokenResponse(ctx, userFromSql(next), {
      sessionId: String(next.session_id),
      refreshToken: successor,
      jti: String(next.access_jti),
      issuedAt: new Date(next.issued_at as string),
      accessExpiresAt: new Date(next.access_expires_at as string),
      refreshExpiresAt: new Date(next.expires_at as string),
      signIn: signInFromSql(next),
    });
  }
  await endSessions(ctx, {
    userId: String(presented.user_id),
    sessionId: String(presented.session_id),
    event: "refresh_token_reused",
  });
  throw new ApiError("refresh_token_reused");
}

/** Refreshes one session may make per window: far above any client refreshing before expiry. */
export const REFRESH_MAX_PER_SESSION = 60;
export const REFRESH_WINDOW_MS = 15 * 60_000;

function sessionOverBudget(ctx: AuthContext, windowOldest: Date): ApiError {
  const retryAfterSeconds = Math.max(
    1,
    Math.ceil((windowOldest.getTime() + REFRESH_WINDOW_MS - ctx.now.getTime()) / 1000),
  );
  return new ApiError("rate_limited", undefined, undefined, { "Retry-After": String(retryAfterSeconds) });
}

export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

/** Live sessions: each has exactly one unspent, unrevoked, unexpired row, its newest. */
export async function listSessions(
  ctx: Pick<AuthContext, "db" | "app" | "now">,
  userId: string,
  currentSessionId: string,
): Promise<SessionView[]> {
  const result = await ctx.db.execute(sql`
    select session_id, session_created_at, created_at, user_agent, ip from refresh_tokens
    where app_id = ${ctx.app.id} and user_id = ${userId}::uuid
      and rotated_at is null and revoked_at is null and expires_at > ${ctx.now}
    order by created_at desc`);
  return result.rows.map((row) => ({
    id: String(row.session_id),
    createdAt: new Date(row.session_created_at as string).toISOString(),
    lastUsedAt: new Date(row.created_at as string).toISOString(),
    userAgent: (row.user_agent as string | null) ?? null,
    ip: (row.ip as string | null) ?? null,
    current: row.session_id === currentSessionId,
  }));
}
