/**
 * Ending sessions, and why it is final. Every statement that creates or extends a session
 * (login, refresh) first takes a share lock on the user's row; every ending takes the
 * exclusive lock (or updates the row) in the same transaction, before it revokes. So an
 * ending either waits for a session write in flight and then sees it, or runs first and makes
 * that write find the row changed. Nothing issued concurrently survives an ending.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, type AuditEvent, auditValues } from "../audit";
import type { Executor } from "../db";
import { publishAndMark, type RevokedToken } from "../revocation";
import type { AuthContext } from "./session-context";

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
  /** Details of that event (who asked, for an operator's call). */
  details?: Record<string, unknown>;
}

export interface EndedSessions {
  sessions: number;
  tokens: RevokedToken[];
}

/**
 * Ends sessions: their refresh rows are revoked and every access token they issued that is
 * still live is recorded in revoked_jti, then published to KV. Returns how many sessions ended.
 */
export async function endSessions(
  ctx: Pick<AuthContext, "db" | "kv" | "app" | "client" | "now">,
  request: EndSessionsRequest,
): Promise<number> {
  const ended = await ctx.db.transaction(async (tx) => {
    await lockUser(tx, ctx.app.id, request.userId);
    return revokeSessions(tx, ctx, request);
  });
  await publishEnded(ctx, ended);
  return ended.sessions;
}

/** Serialises with every login and refresh of the user until the transaction ends. */
export async function lockUser(tx: Executor, appId: string, userId: string): Promise<void> {
  await tx.execute(
    sql`select 1 from users where id = ${userId}::uuid and app_id = ${appId} for no key update`,
  );
}

/**
 * The revoking statement. Run it inside a transaction that already holds the user's row lock
 * (lockUser, or an UPDATE of the row), so it sees every session committed before the lock.
 */
export async function revokeSessions(
  tx: Executor,
  ctx: Pick<AuthContext, "app" | "client" | "now">,
  request: EndSessionsRequest,
): Promise<EndedSessions> {
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
        select ${auditValues(request.event, ctx.app.id, request.userId, ctx.client, ctx.now, request.details)}
        where ${request.sessionId === undefined} or exists (select 1 from ended)
      )`
    : sql``;
  const result = await tx.execute(sql`
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
  const tokens = (row.tokens as { jti: string; expiresAt: string }[]).map((token) => ({
    jti: token.jti,
    appId: ctx.app.id,
    userId: request.userId,
    expiresAt: new Date(token.expiresAt),
  }));
  return { sessions: Number(row.sessions ?? 0), tokens };
}

/** After the commit: the edge copies of the revocations (KV), marked once written. */
export async function publishEnded(
  ctx: Pick<AuthContext, "db" | "kv" | "now">,
  ended: EndedSessions,
): Promise<void> {
  await publishAndMark(ctx.db, ctx.kv, ended.tokens, ctx.now);
}
