/**
 * Re-sealing every sealed value under the current ENCRYPTION_KEY (`gravy keys
 * rotate-encryption`), so ENCRYPTION_KEY_PREVIOUS can then be dropped. Each table that stores
 * sealed values registers its column in SEALED_COLUMNS; nothing else here knows about it. A value
 * is rewritten only if it still holds what was read (a concurrent change wins), and a value that
 * does not open is left untouched and counted: nothing is ever lost.
 */
import { type SQL, sql } from "drizzle-orm";
import { ConfigError } from "../config";
import type { Database } from "../db";
import { type EncryptionSecrets, keyId, open, type SealPurpose, seal } from "./seal";

export interface SealedColumn {
  table: string;
  /** A unique column naming the row. */
  key: string;
  column: string;
  purpose: SealPurpose;
  /** The associated data the value is bound to, from the row's columns. */
  context: (row: Record<string, unknown>) => string;
}

export const SEALED_COLUMNS: SealedColumn[] = [
  {
    table: "signing_keys",
    key: "kid",
    column: "private_sealed",
    purpose: "signing-key",
    context: (row) => String(row.kid),
  },
  {
    // TOTP secrets (src/mfa/factors.ts), bound to their app, user and factor.
    table: "mfa_factors",
    key: "id",
    column: "secret_sealed",
    purpose: "totp-secret",
    context: (row) => `${row.app_id}/${row.user_id}/${row.id}`,
  },
  {
    // Social sign-in client secrets (src/federation/providers.ts), bound to their app and provider.
    table: "oauth_providers",
    key: "id",
    column: "client_secret_sealed",
    purpose: "oauth-client-secret",
    context: (row) => `${row.app_id}/${row.provider}`,
  },
];

export interface ResealCount {
  table: string;
  column: string;
  resealed: number;
  /** Values that did not open under either secret: left as they were. */
  failed: number;
}

const BATCH = 500;

export async function resealAll(
  db: Database,
  secrets: EncryptionSecrets,
  columns: SealedColumn[] = SEALED_COLUMNS,
): Promise<ResealCount[]> {
  if (!secrets.current || !secrets.previous) {
    throw new ConfigError(
      ["ENCRYPTION_KEY", "ENCRYPTION_KEY_PREVIOUS"],
      "set ENCRYPTION_KEY to the new secret and ENCRYPTION_KEY_PREVIOUS to the old one",
    );
  }
  const counts: ResealCount[] = [];
  for (const column of columns) counts.push(await resealColumn(db, secrets, column));
  return counts;
}

async function resealColumn(
  db: Database,
  secrets: EncryptionSecrets,
  spec: SealedColumn,
): Promise<ResealCount> {
  const count = { table: spec.table, column: spec.column, resealed: 0, failed: 0 };
  const current = `v1.${keyId(secrets.current ?? "")}.`;
  const table = sql.identifier(spec.table);
  const key = sql.identifier(spec.key);
  const value = sql.identifier(spec.column);
  let after: SQL = sql`true`;
  for (;;) {
    const rows = await db.execute<Record<string, unknown>>(sql`
      select *, ${key} as "key", ${value} as "sealed" from ${table}
      where ${value} is not null and left(${value}, ${current.length}) <> ${current} and ${after}
      order by ${key} limit ${BATCH}`);
    for (const row of rows.rows) {
      const sealed = String(row.sealed);
      const context = spec.context(row);
      try {
        const { plaintext } = await open(secrets, spec.purpose, sealed, context);
        const fresh = await seal(secrets, spec.purpose, plaintext, context);
        const updated = await db.execute(
          sql`update ${table} set ${value} = ${fresh} where ${key} = ${row.key} and ${value} = ${sealed}`,
        );
        count.resealed += updated.rowCount ?? 0;
      } catch {
        count.failed += 1;
      }
    }
    const last = rows.rows.at(-1);
    if (!last || rows.rows.length < BATCH) return count;
    after = sql`${key} > ${last.key}`;
  }
}
