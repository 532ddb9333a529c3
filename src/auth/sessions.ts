/**
 * Sessions: a family of refresh-token rows, one per issue. Each row also records the access
 * token issued with it (jti, expiry), so ending a session or every session of a user can
 * revoke every live access token without a lookup on the verify path.
 */
import { type SQL, sql } from "drizzle-orm";
import { AUDIT_COLUMNS, type AuditEvent, auditValues } from "../audit";
import { ApiError } from "../errors";
import { publishAndMark, type RevokedToken } from "../revocation";
import { signAccessToken } from "./access-tokens";
import { generateSecretToken, hashSecretToken, successorRefreshToken } from "./secrets";
import { type AuthContext, type IssueContext, signingKey, type TokenResponse } from "./session-context";
import { toUserView, type UserRow, userFromSql } from "./users";

/** The tokens of one issue, computed before the row that records them is written. */
export interface Issue {
  sessionId: string;
  refreshToken: string;
  jti: string;
  issuedAt: Date;
  accessExpiresAt: Date;
  refreshExpiresAt: Date;
}

export function planIssue(ctx: IssueContext, sessionId: string = crypto.randomUUID()): Issue {
  const issuedAtSeconds = Math.floor(ctx.now.getTime() / 1000);
  return {
    sessionId,
    refreshToken: generateSecretToken(),
    jti: crypto.randomUUID(),
    issuedAt: new Date(issuedAtSeconds * 1000),
    accessExpiresAt: new Date((issuedAtSeconds + ctx.config.accessTtlSeconds) * 1000),
    refreshExpiresAt: new Date(ctx.now.getTime() + ctx.config.refreshTtlSeconds * 1000),
  };
}

/** Columns and values of a new session's first refresh row, for an INSERT … SELECT. */
export function newSessionRow(ctx: IssueContext, issue: Issue, userId: SQL | string): SQL {
  const user = typeof userId === "string" ? sql`${userId}::uuid` : userId;
  return sql`${ctx.app.id}, ${user}, ${issue.sessionId}::uuid, ${hashSecretToken(issue.refreshToken)},
    ${issue.jti}, ${issue.accessExpiresAt}, ${issue.issuedAt}, ${issue.refreshExpiresAt},
    ${issue.issuedAt}, ${ctx.client.userAgent}, ${ctx.client.ip}`;
}

export const REFRESH_COLUMNS = sql`app_id, user_id, session_id, token_hash, access_jti, access_expires_at,
  created_at, expires_at, session_created_at, user_agent, ip`;

export async function tokenResponse(ctx: IssueContext, user: UserRow, issue: Issue): Promise<TokenResponse> {
  const accessToken = await signAccessToken(
    {
      sub: user.id,
      aud: ctx.app.id,
      iat: issue.issuedAt.getTime() / 1000,
      exp: issue.accessExpiresAt.getTime() / 1000,
      jti: issue.jti,
      sid: issue.sessionId,
      email: user.email,
      email_verified: user.emailVerified,
    },
    signingKey(ctx.config),
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
 * Exchanges a refresh token for a new pair. The normal case is one statement: spend the
 * token (only if live), insert its successor, audit, and read the user — atomic, so two
 * concurrent refreshes can never both spend it.
 */
export async function refreshSession(ctx: AuthContext, refreshToken: string): Promise<TokenResponse> {
  const hash = hashSecretToken(refreshToken);
  const successor = successorRefreshToken(refreshToken, ctx.config.jwtSecret);
  const issue = { ...planIssue(ctx), refreshToken: successor };
  const result = await ctx.db.execute(sql`
    with spent as (
      update refresh_tokens set rotated_at = ${ctx.now}
      where token_hash = ${hash} and app_id = ${ctx.app.id}
        and rotated_at is null and revoked_at is null and expires_at > ${ctx.now}
      returning user_id, session_id, session_created_at
    ), successor as (
      insert into refresh_tokens (${REFRESH_COLUMNS})
      select ${ctx.app.id}, user_id, session_id, ${hashSecretToken(successor)}, ${issue.jti},
        ${issue.accessExpiresAt}, ${issue.issuedAt}, ${issue.refreshExpiresAt}, session_created_at,
        ${ctx.client.userAgent}, ${ctx.client.ip}
      from spent
      returning user_id, session_id
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("refresh", ctx.app.id, sql`user_id`, ctx.client, ctx.now, {})} from successor
    )
    select u.id, u.app_id, u.email, u.email_verified, u.name, u.created_at, s.session_id
    from successor s join users u on u.id = s.user_id`);
  const row = result.rows[0];
  if (row) return tokenResponse(ctx, userFromSql(row), { ...issue, sessionId: String(row.session_id) });
  return refreshSlowPath(ctx, hash, successor);
}

/** Why a refresh token was not live: a retry within the grace window, reuse, or plain invalid. */
async function refreshSlowPath(ctx: AuthContext, hash: string, successor: string): Promise<TokenResponse> {
  const result = await ctx.db.execute(sql`
    select r.token_hash, r.app_id, r.user_id, r.session_id, r.rotated_at, r.revoked_at, r.expires_at,
      r.access_jti, r.access_expires_at, r.created_at as issued_at,
      u.id, u.email, u.email_verified, u.name, u.created_at
    from refresh_tokens r join users u on u.id = r.user_id
    where r.token_hash in (${hash}, ${hashSecretToken(successor)}) and r.app_id = ${ctx.app.id}`);
  const presented = result.rows.find((row) => row.token_hash === hash);
  if (!presented || presented.revoked_at) throw new ApiError("invalid_refresh_token");
  if (!presented.rotated_at) {
    const expired = new Date(presented.expires_at as string) <= ctx.now;
    throw new ApiError(expired ? "refresh_token_expired" : "invalid_refresh_token");
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
    });
  }
  await endSessions(ctx, {
    userId: String(presented.user_id),
    sessionId: String(presented.session_id),
    event: "refresh_token_reused",
  });
  throw new ApiError("refresh_token_reused");
}

export interface EndSessionsRequest {
  userId: string;
  /** One session, or every session of the user in this app when omitted. */
  sessionId?: string;
  /** Every session except this one (password change). */
  exceptSessionId?: string;
  /** An access token to revoke as well (the caller's own, on logout). */
  alsoRevoke?: { jti: string; expiresAt: Date };
  /** The audit event to record; none when the caller already recorded one. */
  event?: AuditEvent;
}

/**
 * Ends sessions: their refresh rows are revoked and every access token they issued that is
 * still live is recorded in revoked_jti, then published to KV. Returns how many sessions ended.
 */
export async function endSessions(ctx: AuthContext, request: EndSessionsRequest): Promise<number> {
  const scope = request.sessionId
    ? sql`and session_id = ${request.sessionId}::uuid`
    : request.exceptSessionId
      ? sql`and session_id <> ${request.exceptSessionId}::uuid`
      : sql``;
  const extra = request.alsoRevoke
    ? sql`union select ${request.alsoRevoke.jti}, ${request.alsoRevoke.expiresAt}::timestamptz`
    : sql``;
  // Revoking one session is audited only if it existed; ending "all" is audited regardless.
  const audited = request.event
    ? sql`, audited as (
        insert into audit (${AUDIT_COLUMNS})
        select ${auditValues(request.event, ctx.app.id, request.userId, ctx.client, ctx.now, {})}
        where ${request.sessionId === undefined} or exists (select 1 from ended)
      )`
    : sql``;
  const result = await ctx.db.execute(sql`
    with ended as (
      update refresh_tokens set revoked_at = ${ctx.now}
      where app_id = ${ctx.app.id} and user_id = ${request.userId}::uuid and revoked_at is null ${scope}
      returning session_id, access_jti, access_expires_at
    ), tokens as (
      select access_jti as jti, access_expires_at as expires_at from ended
      where access_expires_at > ${ctx.now} ${extra}
    ), recorded as (
      insert into revoked_jti (jti, app_id, user_id, expires_at, revoked_at)
      select jti, ${ctx.app.id}, ${request.userId}::uuid, expires_at, ${ctx.now} from tokens
      on conflict (jti) do nothing
    ) ${audited}
    select (select count(distinct session_id) from ended)::int as sessions,
      coalesce((select json_agg(json_build_object('jti', jti, 'expiresAt', expires_at)) from tokens), '[]')
        as tokens`);
  const row = result.rows[0] ?? {};
  const tokens: RevokedToken[] = (row.tokens as { jti: string; expiresAt: string }[]).map((token) => ({
    jti: token.jti,
    appId: ctx.app.id,
    userId: request.userId,
    expiresAt: new Date(token.expiresAt),
  }));
  await publishAndMark(ctx.db, ctx.kv, tokens, ctx.now);
  return Number(row.sessions ?? 0);
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
  ctx: AuthContext,
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
