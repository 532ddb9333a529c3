/**
 * App keys from the command line. A key is printed once, when created; only its hash is
 * stored. A revoked key is refused by every Worker within APP_KEY_CACHE_MS (5 s).
 */
import type pg from "pg";
import { generateAppKey, hashAppKey } from "../admin/app-keys";
import { CliError } from "./errors";

export interface CreatedAppKey {
  id: string;
  appId: string;
  name: string;
  /** Shown once; never stored. */
  key: string;
  createdAt: Date;
}

export interface AppKeySummary {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export async function createAppKey(pool: pg.Pool, appId: string, name: string): Promise<CreatedAppKey> {
  const key = generateAppKey(appId);
  const result = await pool.query<{ id: string; created_at: Date }>(
    `insert into app_keys (app_id, name, key_hash)
     select id, $2, $3 from apps where id = $1
     returning id, created_at`,
    [appId, name, hashAppKey(key)],
  );
  const row = result.rows[0];
  if (!row) throw new CliError(`No app "${appId}"`);
  return { id: row.id, appId, name, key, createdAt: row.created_at };
}

export async function listAppKeys(pool: pg.Pool, appId: string): Promise<AppKeySummary[]> {
  const app = await pool.query("select 1 from apps where id = $1", [appId]);
  if (app.rowCount === 0) throw new CliError(`No app "${appId}"`);
  const result = await pool.query<AppKeySummary>(
    `select id, name, created_at as "createdAt", last_used_at as "lastUsedAt", revoked_at as "revokedAt"
     from app_keys where app_id = $1 order by created_at, id`,
    [appId],
  );
  return result.rows;
}

/** Revokes a key of this app, by id; revoking twice is refused, so a typo never looks done. */
export async function revokeAppKey(pool: pg.Pool, appId: string, keyId: string): Promise<void> {
  if (!/^[0-9a-f-]{36}$/i.test(keyId)) throw new CliError("keyId must be a key id from `gravy app key list`");
  const result = await pool.query(
    "update app_keys set revoked_at = now() where id = $1 and app_id = $2 and revoked_at is null",
    [keyId, appId],
  );
  if (result.rowCount === 0) throw new CliError(`No live key ${keyId} in app "${appId}"`);
}
