/**
 * Deleting an account: the user's own request, an operator's (`gravy user delete`) or an app
 * backend's. In one transaction, with the user's row locked first (so a login or refresh in
 * flight either finished before and is revoked here, or finds no user afterwards): every
 * access token still live is recorded as revoked, the row goes with everything keyed to it
 * (sessions, email tokens, second factors, passkeys: the foreign keys cascade; sign-in codes, keyed by address), and the audit trail keeps the user only
 * under their id — the address is blanked from their past events and the deletion is recorded
 * without it; its own rows also lose their IP and user agent, and each blanked field stays
 * visible as redacted in the audit's hash chain. The address is then free to register again.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues, type Client } from "../audit";
import type { Database } from "../db";
import type { RevokedToken } from "../revocation";

/** Who asked: recorded with the deletion. */
export type DeletionReason = "user_request" | "operator" | "admin_api";

export interface DeletedUser {
  userId: string;
  /** The address the account had, for the caller to clear what it keys by it. */
  email: string;
  /** Recorded in Postgres; the caller publishes them to KV (or the cleanup cron does). */
  revoked: RevokedToken[];
}

const NO_CLIENT: Client = { ip: null, userAgent: null };

/** Deletes the user of this app; undefined when there is no such user. */
export async function deleteUser(
  db: Database,
  appId: string,
  userId: string,
  reason: DeletionReason,
  options: { client?: Client; now?: Date; details?: Record<string, unknown> } = {},
): Promise<DeletedUser | undefined> {
  const now = options.now ?? new Date();
  return db.transaction(async (tx) => {
    const found = await tx.execute(sql`
      select email from users where id = ${userId}::uuid and app_id = ${appId} for update`);
    const email = found.rows[0]?.email;
    if (typeof email !== "string") return undefined;
    // Through the audit's own function: the app's role may add audit rows, never change them.
    await tx.execute(sql`select count(*) from audit_redact_account(${appId}, ${userId}::uuid, ${email})`);
    const result = await tx.execute(sql`
      with revoked as (
        insert into revoked_jti (jti, app_id, user_id, expires_at, revoked_at)
        select access_jti, ${appId}, ${userId}::uuid, access_expires_at, ${now} from refresh_tokens
        where user_id = ${userId}::uuid and app_id = ${appId} and access_expires_at > ${now}
        on conflict (jti) do nothing
        returning jti, expires_at
      ), deleted as (
        delete from users where id = ${userId}::uuid and app_id = ${appId}
      ), codes as (
        delete from email_logins where app_id = ${appId} and email = ${email}
      ), audited as (
        insert into audit (${AUDIT_COLUMNS})
        values (${auditValues("account_deleted", appId, userId, options.client ?? NO_CLIENT, now, { reason, ...options.details })})
      )
      select coalesce(json_agg(json_build_object('jti', jti, 'expiresAt', expires_at)), '[]') as tokens
      from revoked`);
    const tokens = (result.rows[0]?.tokens ?? []) as { jti: string; expiresAt: string }[];
    const revoked = tokens.map((token) => ({
      jti: token.jti,
      appId,
      userId,
      expiresAt: new Date(token.expiresAt),
    }));
    return { userId, email, revoked };
  });
}
