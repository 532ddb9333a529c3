/**
 * What drizzle's migrator has applied, and undoing the last step. The migrator records each
 * applied migration in drizzle.__drizzle_migrations as (sha256 of its SQL file, the journal's
 * `when`) and applies every journal entry newer than the newest row. drizzle-kit writes no
 * down migrations, so each one has a reviewed `<tag>.down.sql` beside it; rollback refuses
 * without one, and removes the row so the next `migrate` applies the migration again.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type pg from "pg";
import { inTransaction } from "./database";
import { CliError } from "./errors";

export interface MigrationFile {
  tag: string;
  /** The journal's `when`: the migration's date, and the key drizzle records. */
  createdAt: number;
  hash: string;
  downPath: string | undefined;
}

export interface AppliedMigration {
  hash: string;
  createdAt: number;
}

/**
 * applied: recorded and unchanged · pending: not yet applied · changed: its SQL file differs
 * from what was applied · unknown: recorded, but not in the journal · skipped: older than the
 * newest applied one, so drizzle's migrator will never apply it.
 */
export type MigrationState = "applied" | "pending" | "changed" | "unknown" | "skipped";

export interface MigrationStatus {
  tag: string | null;
  createdAt: Date;
  state: MigrationState;
  hasDown: boolean;
}

const TABLE = "drizzle.__drizzle_migrations";

export function readMigrationFiles(folder: string): MigrationFile[] {
  const journalPath = path.join(folder, "meta", "_journal.json");
  if (!existsSync(journalPath)) throw new CliError(`No migration journal at ${journalPath}`);
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as {
    entries: { tag: string; when: number }[];
  };
  return journal.entries.map((entry) => {
    const sql = readFileSync(path.join(folder, `${entry.tag}.sql`), "utf8");
    const downPath = path.join(folder, `${entry.tag}.down.sql`);
    return {
      tag: entry.tag,
      createdAt: entry.when,
      hash: createHash("sha256").update(sql).digest("hex"),
      downPath: existsSync(downPath) ? downPath : undefined,
    };
  });
}

/** The rows drizzle recorded, oldest first; none before the first `migrate`. */
export async function readApplied(
  client: pg.Pool | pg.PoolClient,
  lock = false,
): Promise<AppliedMigration[]> {
  const exists = await client.query<{ found: string | null }>(`select to_regclass($1) as found`, [TABLE]);
  if (!exists.rows[0]?.found) return [];
  const result = await client.query<{ hash: string; created_at: string }>(
    `select hash, created_at from ${TABLE} order by created_at${lock ? " for update" : ""}`,
  );
  return result.rows.map((row) => ({ hash: row.hash, createdAt: Number(row.created_at) }));
}

/** Joins the journal with what the database recorded, in date order. */
export function compareMigrations(files: MigrationFile[], applied: AppliedMigration[]): MigrationStatus[] {
  const newestApplied = Math.max(0, ...applied.map((row) => row.createdAt));
  const byDate = new Map(applied.map((row) => [row.createdAt, row]));
  const known = files.map((file): MigrationStatus => {
    const row = byDate.get(file.createdAt);
    const state: MigrationState = row
      ? row.hash === file.hash
        ? "applied"
        : "changed"
      : file.createdAt > newestApplied
        ? "pending"
        : "skipped";
    return {
      tag: file.tag,
      createdAt: new Date(file.createdAt),
      state,
      hasDown: file.downPath !== undefined,
    };
  });
  const journalDates = new Set(files.map((file) => file.createdAt));
  const strays = applied
    .filter((row) => !journalDates.has(row.createdAt))
    .map(
      (row): MigrationStatus => ({
        tag: null,
        createdAt: new Date(row.createdAt),
        state: "unknown",
        hasDown: false,
      }),
    );
  return [...known, ...strays].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

export async function migrationStatus(pool: pg.Pool, folder: string): Promise<MigrationStatus[]> {
  return compareMigrations(readMigrationFiles(folder), await readApplied(pool));
}

/** The migration `rollbackLast` would undo now, so it can be shown before anyone confirms. */
export async function planRollback(pool: pg.Pool, folder: string): Promise<MigrationFile> {
  return undoable(readMigrationFiles(folder), (await readApplied(pool)).at(-1), folder);
}

/**
 * Undoes the newest applied migration in one transaction: its down SQL, then its record.
 * Refuses when there is nothing to undo, no reviewed down file, the file changed since, or
 * (with `expectedTag`) the newest applied migration is no longer the one that was confirmed.
 */
export async function rollbackLast(
  pool: pg.Pool,
  folder: string,
  expectedTag?: string,
): Promise<MigrationFile> {
  const files = readMigrationFiles(folder);
  return inTransaction(pool, async (client) => {
    const applied = await readApplied(client, true);
    const file = undoable(files, applied.at(-1), folder);
    if (expectedTag !== undefined && file.tag !== expectedTag) {
      throw new CliError(
        `The last applied migration is now ${file.tag}, not ${expectedTag}; nothing was rolled back`,
      );
    }
    await client.query(readFileSync(file.downPath as string, "utf8"));
    await client.query(`delete from ${TABLE} where created_at = $1`, [file.createdAt]);
    return file;
  });
}

/** What a down file does, in one line: the tables it drops, or how many statements it runs. */
export function describeDown(file: MigrationFile): string {
  const sql = readFileSync(file.downPath as string, "utf8").replace(/--.*$/gm, "");
  const dropped = [...sql.matchAll(/\bdrop\s+table\s+(?:if\s+exists\s+)?"?([\w.]+)"?/gi)].map((m) => m[1]);
  if (dropped.length > 0) return `drops the tables ${dropped.join(", ")} with every row in them`;
  const statements = sql.split(";").filter((part) => part.trim() !== "").length;
  return `runs the ${statements} statements of ${path.basename(file.downPath as string)}`;
}

function undoable(files: MigrationFile[], last: AppliedMigration | undefined, folder: string): MigrationFile {
  if (!last) throw new CliError("Nothing to roll back: no migration has been applied");
  const file = files.find((candidate) => candidate.createdAt === last.createdAt);
  if (!file) {
    throw new CliError(
      `The last applied migration (${new Date(last.createdAt).toISOString()}) is not in the journal`,
    );
  }
  if (file.hash !== last.hash) {
    throw new CliError(`${file.tag}.sql changed after it was applied; its down migration may not match`);
  }
  if (!file.downPath) {
    throw new CliError(
      `Cannot roll back ${file.tag}: no ${path.join(folder, `${file.tag}.down.sql`)} (write and review one first)`,
    );
  }
  return file;
}
