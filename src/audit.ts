/**
 * The audit trail: one row per security event, with app, user, client IP and user agent.
 * Events are written inside the statements that cause them, so no event is lost or invented.
 */
import { SQL, sql } from "drizzle-orm";

export type AuditEvent =
  | "register"
  | "login_succeeded"
  | "login_failed"
  | "account_locked"
  | "refresh"
  | "refresh_token_reused"
  | "logout"
  | "logout_all"
  | "session_revoked"
  | "verification_sent"
  | "email_verified"
  | "password_reset_requested"
  | "password_reset"
  | "password_changed"
  | "password_change_failed"
  | "mail_failed"
  | "mfa_enrollment_started"
  | "mfa_enabled"
  | "mfa_disabled"
  | "mfa_disable_failed"
  | "mfa_challenged"
  | "mfa_failed"
  | "recovery_code_used"
  | "admin_users_listed"
  | "admin_user_viewed"
  | "admin_user_disabled"
  | "admin_user_enabled"
  | "admin_logout"
  | "admin_email_verified"
  | "admin_audit_read"
  | "password_check_failed"
  | "email_change_requested"
  | "email_changed"
  | "email_change_refused"
  | "account_deleted"
  | "email_login_requested"
  | "email_login_failed"
  | "passkey_registered"
  | "passkey_deleted"
  | "passkey_failed"
  | "deletion_code_requested"
  | "deletion_code_failed"
  | "handoff_refused"
  | "identity_linked"
  | "identity_unlinked"
  | "oauth_failed";

/** Who is asking: read from the request by the HTTP layer. */
export interface Client {
  ip: string | null;
  userAgent: string | null;
}

/** A row for `insert into audit (app_id, user_id, event, ip, user_agent, details, created_at)`. */
export function auditValues(
  event: AuditEvent,
  appId: string,
  userId: SQL | string | null,
  client: Client,
  now: Date,
  details: Record<string, unknown> | SQL = {},
): SQL {
  const user = userId === null || typeof userId === "string" ? sql`${userId}::uuid` : userId;
  // SQL details are a jsonb expression over the rows of an INSERT … SELECT.
  const json = details instanceof SQL ? details : sql`${JSON.stringify(details)}::jsonb`;
  return sql`${appId}, ${user}, ${event}, ${client.ip}, ${client.userAgent}, ${json}, ${now}::timestamptz`;
}

export const AUDIT_COLUMNS = sql`app_id, user_id, event, ip, user_agent, details, created_at`;
