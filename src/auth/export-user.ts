/**
 * Everything Turkey holds about one user of one app, as one JSON document: the profile, every
 * sign-in still on record (with its network address and user agent), the passkeys (without their
 * keys) and the audit events about the user. Secrets stay out: no password hash, no token or token hash.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db";
import { listPasskeys, type PasskeyView } from "../passkeys/credentials";
import { toUserView, type UserView, userFromSql } from "./users";

export interface ExportedSession {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  endedAt: string | null;
  ip: string | null;
  userAgent: string | null;
}

export interface ExportedEvent {
  event: string;
  createdAt: string;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

export interface AccountExport {
  exportedAt: string;
  app: { id: string; name: string };
  user: UserView;
  sessions: ExportedSession[];
  passkeys: PasskeyView[];
  auditEvents: ExportedEvent[];
}

/** The user's document; undefined when the app has no such user. */
export async function exportUser(
  db: Database,
  appId: string,
  userId: string,
  now: Date,
): Promise<AccountExport | undefined> {
  const found = await db.execute(sql`
    select u.id, u.app_id, u.email, u.email_verified, u.name, u.created_at, a.name as app_name
    from users u join apps a on a.id = u.app_id
    where u.id = ${userId}::uuid and u.app_id = ${appId}`);
  const row = found.rows[0];
  if (!row) return undefined;
  const sessions = await db.execute(sql`
    select distinct on (session_id) session_id, session_created_at, created_at, expires_at,
      revoked_at, ip, user_agent
    from refresh_tokens where user_id = ${userId}::uuid and app_id = ${appId}
    order by session_id, created_at desc`);
  const events = await db.execute(sql`
    select event, created_at, ip, user_agent, details from audit
    where user_id = ${userId}::uuid and app_id = ${appId} order by created_at, id`);
  return {
    exportedAt: now.toISOString(),
    app: { id: appId, name: String(row.app_name) },
    user: toUserView(userFromSql(row)),
    sessions: sessions.rows.map((session) => ({
      id: String(session.session_id),
      createdAt: iso(session.session_created_at),
      lastUsedAt: iso(session.created_at),
      expiresAt: iso(session.expires_at),
      endedAt: session.revoked_at === null ? null : iso(session.revoked_at),
      ip: nullableString(session.ip),
      userAgent: nullableString(session.user_agent),
    })),
    passkeys: await listPasskeys(db, appId, userId),
    auditEvents: events.rows.map((event) => ({
      event: String(event.event),
      createdAt: iso(event.created_at),
      ip: nullableString(event.ip),
      userAgent: nullableString(event.user_agent),
      details: (event.details ?? {}) as Record<string, unknown>,
    })),
  };
}

function iso(value: unknown): string {
  return new Date(value as string | Date).toISOString();
}

function nullableString(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
