/**
 * The admin API's user operations, always within the key's own app. Disabling a user ends
 * every session and live access token in the transaction that sets `disabled_at`: that UPDATE
 * takes the user's row lock, which every login and refresh share-locks (src/auth/end-sessions.ts),
 * and those statements require `disabled_at is null`, so nothing issued concurrently survives.
 */
import { type SQL, sql } from "drizzle-orm";
import { AUDIT_COLUMNS, type AuditEvent } from "../audit";
import { deleteUser } from "../auth/delete-user";
import { endSessions, publishEnded, revokeSessions } from "../auth/end-sessions";
import { listSessions, type SessionView } from "../auth/sessions";
import { toUserView, type UserView, userFromSql } from "../auth/users";
import type { Executor } from "../db";
import { ApiError } from "../errors";
import { type FactorsView, listFactors } from "../mfa/factors";
import { type AdminContext, adminAuditValues, auditAdminRead, decodeCursor, encodeCursor } from "./context";

export interface AdminUserView extends UserView {
  disabledAt: string | null;
}

export interface UserPage {
  users: AdminUserView[];
  nextCursor: string | null;
}

export interface UserQuery {
  query?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COLUMNS = sql`id, app_id, email, email_verified, name, created_at, disabled_at`;

function toAdminUser(row: Record<string, unknown>): AdminUserView {
  const disabled = row.disabled_at as string | Date | null;
  return { ...toUserView(userFromSql(row)), disabledAt: disabled ? new Date(disabled).toISOString() : null };
}

/** Users of the app in (created_at, id) order; `query` is an email prefix or a user id. */
export async function listUsers(ctx: AdminContext, input: UserQuery): Promise<UserPage> {
  const after = input.cursor ? decodeCursor(input.cursor) : undefined;
  const result = await ctx.db.execute(sql`
    select ${COLUMNS}, created_at::text as cursor_at from users
    where app_id = ${ctx.app.id} ${matching(input.query)}
      ${after ? sql`and (created_at, id) > (${after.at}::timestamptz, ${after.id}::uuid)` : sql``}
    order by created_at, id
    limit ${input.limit + 1}`);
  const rows = result.rows.slice(0, input.limit);
  const last = rows.at(-1);
  await auditAdminRead(ctx, "admin_users_listed", null, searched(input.query));
  return {
    users: rows.map(toAdminUser),
    nextCursor:
      result.rows.length > input.limit && last
        ? encodeCursor({ at: String(last.cursor_at), id: String(last.id) })
        : null,
  };
}

/** What was searched, for the audit; an email goes under `email`, which AUDIT_PII_DAYS blanks. */
function searched(query: string | undefined): Record<string, string> {
  const text = query?.trim().toLowerCase();
  if (!text) return {};
  return UUID.test(text) ? { userId: text } : { email: text };
}

function matching(query: string | undefined): SQL {
  const text = query?.trim().toLowerCase();
  if (!text) return sql``;
  const prefix = `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return UUID.test(text)
    ? sql`and (id = ${text}::uuid or email like ${prefix})`
    : sql`and email like ${prefix}`;
}

export interface UserDetail {
  user: AdminUserView;
  sessions: SessionView[];
  /** Second factors and the unused recovery codes left (src/mfa). */
  mfa: FactorsView;
}

export async function getUser(ctx: AdminContext, userId: string): Promise<UserDetail> {
  const user = await findUser(ctx, userId);
  const sessions = await listSessions({ db: ctx.db, app: ctx.app, now: ctx.now }, userId, "");
  const mfa = await listFactors(ctx.db, ctx.app.id, userId);
  await auditAdminRead(ctx, "admin_user_viewed", userId);
  return { user, sessions, mfa };
}

async function findUser(ctx: AdminContext, userId: string): Promise<AdminUserView> {
  const result = await ctx.db.execute(
    sql`select ${COLUMNS} from users where id = ${userId}::uuid and app_id = ${ctx.app.id}`,
  );
  const row = result.rows[0];
  if (!row) throw noSuchUser();
  return toAdminUser(row);
}

/**
 * Disables the user and ends every session and live access token, in one transaction; the
 * revocations reach KV right after it commits.
 */
export async function disableUser(ctx: AdminContext, userId: string): Promise<AdminUserView> {
  const done = await ctx.db.transaction(async (tx) => {
    const row = await updateUser(
      tx,
      ctx,
      userId,
      sql`disabled_at = coalesce(disabled_at, ${ctx.now})`,
      "admin_user_disabled",
    );
    if (!row) return undefined;
    return { row, ended: await revokeSessions(tx, ctx, { userId }) };
  });
  if (!done) throw noSuchUser();
  await publishEnded(ctx, done.ended);
  return toAdminUser(done.row);
}

export async function enableUser(ctx: AdminContext, userId: string): Promise<AdminUserView> {
  const row = await updateUser(ctx.db, ctx, userId, sql`disabled_at = null`, "admin_user_enabled");
  if (!row) throw noSuchUser();
  return toAdminUser(row);
}

export async function verifyUserEmail(ctx: AdminContext, userId: string): Promise<AdminUserView> {
  const row = await updateUser(ctx.db, ctx, userId, sql`email_verified = true`, "admin_email_verified");
  if (!row) throw noSuchUser();
  return toAdminUser(row);
}

/** Ends every session of the user; returns how many ended. */
export async function logoutUser(ctx: AdminContext, userId: string): Promise<number> {
  await findUser(ctx, userId);
  return endSessions(ctx, {
    userId,
    event: "admin_logout",
    details: { appKey: ctx.key.name, appKeyId: ctx.key.id },
  });
}

/**
 * Deletes the user exactly as its own deletion does (tokens revoked, rows gone, the audit kept
 * under the user id only); the audit row names the key that asked.
 */
export async function removeUser(ctx: AdminContext, userId: string): Promise<void> {
  const deleted = await deleteUser(ctx.db, ctx.app.id, userId, "admin_api", {
    client: ctx.client,
    now: ctx.now,
    details: { appKey: ctx.key.name, appKeyId: ctx.key.id },
  });
  if (!deleted) throw noSuchUser();
  await publishEnded(ctx, { sessions: 0, tokens: deleted.revoked });
}

/** One UPDATE of the user in this app, audited in the same statement. */
async function updateUser(
  db: Executor,
  ctx: AdminContext,
  userId: string,
  change: SQL,
  event: AuditEvent,
): Promise<Record<string, unknown> | undefined> {
  const result = await db.execute(sql`
    with updated as (
      update users set ${change}, updated_at = ${ctx.now}
      where id = ${userId}::uuid and app_id = ${ctx.app.id}
      returning ${COLUMNS}
    ), audited as (
      insert into audit (${AUDIT_COLUMNS}) select ${adminAuditValues(ctx, event, sql`id`)} from updated
    )
    select * from updated`);
  return result.rows[0];
}

function noSuchUser(): ApiError {
  return new ApiError("not_found", "No such user in this app");
}
