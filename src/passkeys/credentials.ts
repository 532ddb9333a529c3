/**
 * The passkeys stored for users of an app: list, find by credential id, record a use, delete.
 * Every deletion is audited in the statement that deletes.
 */
import { type SQL, sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues, type Client } from "../audit";
import type { Executor } from "../db";

export type DeviceType = "singleDevice" | "multiDevice";

/** A passkey as its user (and support) sees it: never the key itself. */
export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  deviceType: DeviceType;
  backedUp: boolean;
}

export interface StoredPasskey {
  id: string;
  userId: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: DeviceType;
}

export const PASSKEY_VIEW_COLUMNS = sql`id, name, created_at, last_used_at, device_type, backed_up`;

export function passkeyFromSql(row: Record<string, unknown>): PasskeyView {
  return {
    id: String(row.id),
    name: String(row.name),
    createdAt: new Date(row.created_at as string).toISOString(),
    lastUsedAt: row.last_used_at ? new Date(row.last_used_at as string).toISOString() : null,
    deviceType: row.device_type === "multiDevice" ? "multiDevice" : "singleDevice",
    backedUp: row.backed_up === true,
  };
}

/** The user's passkeys, oldest first. */
export async function listPasskeys(db: Executor, appId: string, userId: string): Promise<PasskeyView[]> {
  const result = await db.execute(sql`
    select ${PASSKEY_VIEW_COLUMNS} from passkeys
    where app_id = ${appId} and user_id = ${userId}::uuid order by created_at, id`);
  return result.rows.map(passkeyFromSql);
}

/** The credential ids (and transports) of the user's passkeys, for allow/exclude lists. */
export async function credentialsOf(
  db: Executor,
  appId: string,
  userId: string,
): Promise<{ id: string; transports: string[] }[]> {
  const result = await db.execute(sql`
    select credential_id, transports from passkeys
    where app_id = ${appId} and user_id = ${userId}::uuid order by created_at, id`);
  return result.rows.map((row) => ({
    id: String(row.credential_id),
    transports: row.transports as string[],
  }));
}

/** The passkey of this app with this credential id; another app's is never found. */
export async function findPasskey(
  db: Executor,
  appId: string,
  credentialId: string,
): Promise<StoredPasskey | undefined> {
  const result = await db.execute(sql`
    select id, user_id, credential_id, public_key, counter, transports, device_type from passkeys
    where app_id = ${appId} and credential_id = ${credentialId}`);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    id: String(row.id),
    userId: String(row.user_id),
    credentialId: String(row.credential_id),
    publicKey: String(row.public_key),
    counter: Number(row.counter),
    transports: row.transports as string[],
    deviceType: row.device_type === "multiDevice" ? "multiDevice" : "singleDevice",
  };
}

/**
 * Records a use with the authenticator's new signature counter, only if it went up (or both
 * are 0: authenticators without a counter). False means a counter that did not increase: a
 * sign of a cloned authenticator.
 */
export async function recordUse(
  db: Executor,
  passkey: StoredPasskey,
  use: { counter: number; backedUp: boolean; now: Date },
): Promise<boolean> {
  const result = await db.execute(sql`
    update passkeys set counter = ${use.counter}, backed_up = ${use.backedUp}, last_used_at = ${use.now}
    where id = ${passkey.id}::uuid
      and (counter < ${use.counter} or (counter = 0 and ${use.counter}::bigint = 0))
    returning id`);
  return result.rows.length === 1;
}

/**
 * Deletes one passkey of the user (`id`), or all of them (`id` absent), audited as
 * passkey_deleted; answers how many went.
 */
export async function deletePasskeys(
  db: Executor,
  target: { appId: string; userId: string; id?: string },
  who: { client: Client; now: Date },
  details: Record<string, unknown> = {},
): Promise<number> {
  const { appId, userId } = target;
  const one: SQL = target.id ? sql`and id = ${target.id}::uuid` : sql``;
  const result = await db.execute(sql`
    with removed as (
      delete from passkeys where app_id = ${appId} and user_id = ${userId}::uuid ${one}
      returning id, user_id, name
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues(
        "passkey_deleted",
        appId,
        sql`user_id`,
        who.client,
        who.now,
        sql`jsonb_build_object('passkeyId', id, 'name', name) || ${JSON.stringify(details)}::jsonb`,
      )}
      from removed
    )
    select count(*)::int as removed from removed`);
  return Number(result.rows[0]?.removed ?? 0);
}
