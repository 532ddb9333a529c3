/** `gravy db migrate | status | rollback`. */
import { applyMigrations, MIGRATIONS_DIR } from "../../db/migrate";
import type { Command, CommandContext } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { CliError } from "../errors";
import {
  describeDown,
  type MigrationFile,
  type MigrationStatus,
  migrationStatus,
  planRollback,
  rollbackLast,
} from "../migrations";
import { formatTable, type Io, writeJson, writeLines } from "../output";
import { readServerVersion, requireSupportedServer } from "../server-version";

const migrate: Command = {
  name: "db migrate",
  summary: "Apply pending migrations (the same code path as `npm start` and the tests).",
  details:
    "Run it as the role that owns the tables (not the app's least-privilege role from `gravy db grants`).",
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    const { applied, after } = await withDatabase(target, async (handle) => {
      requireSupportedServer(await readServerVersion(handle.pool), target.description.label);
      const before = await migrationStatus(handle.pool, MIGRATIONS_DIR);
      warnAboutDrift(ctx.io, before);
      const pending = new Set(before.filter((m) => m.state === "pending").map((m) => m.tag));
      // Nothing to do needs no DDL rights, so the app's own role can run it as a check.
      if (pending.size > 0) await applyMigrations(target.url).catch(explainPermission);
      const after = await migrationStatus(handle.pool, MIGRATIONS_DIR);
      return { applied: after.filter((m) => m.state === "applied" && pending.has(m.tag)), after };
    });
    if (ctx.json) return writeJson(ctx.io, { applied: applied.map(toJson), migrations: after.map(toJson) });
    const total = after.filter((m) => m.state === "applied").length;
    writeLines(
      ctx.io,
      ...applied.map((m) => `Applied ${m.tag}`),
      `Database ${target.description.label} is up to date (${total} applied).`,
    );
  },
};

const status: Command = {
  name: "db status",
  summary: "List applied and pending migrations with their dates.",
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    await withDatabase(target, async (handle) => {
      const migrations = await migrationStatus(handle.pool, MIGRATIONS_DIR);
      const count = (state: string) => migrations.filter((m) => m.state === state).length;
      if (ctx.json) {
        return writeJson(ctx.io, {
          database: target.description.label,
          applied: count("applied"),
          pending: count("pending"),
          migrations: migrations.map(toJson),
        });
      }
      writeLines(
        ctx.io,
        `Database ${target.description.label}: ${count("applied")} applied, ${count("pending")} pending`,
        "",
        statusTable(migrations),
      );
      warnAboutDrift(ctx.io, migrations);
    });
  },
};

const rollback: Command = {
  name: "db rollback",
  summary: "Undo the last applied migration with its reviewed <migration>.down.sql.",
  details: [
    "Undoing a migration drops what it created, data included: rolling back the first one drops every table.",
    "Asks for confirmation on a terminal, and needs --yes elsewhere; with NODE_ENV=production it also",
    "needs --force. Refuses when the migration has no down file. `gravy db migrate` applies it again.",
  ].join("\n"),
  options: {
    yes: { type: "boolean", short: "y", description: "confirm without being asked (scripts)" },
    force: { type: "boolean", description: "allow it with NODE_ENV=production" },
  },
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    if (target.production && !ctx.flag("force")) {
      throw new CliError(
        "Refusing to roll back with NODE_ENV=production: it drops tables and their data. Take a backup (`gravy db backup`), then add --force.",
      );
    }
    await withDatabase(target, async (handle) => {
      const planned = await planRollback(handle.pool, MIGRATIONS_DIR);
      await confirmRollback(ctx, planned, target.description.label);
      const undone = await rollbackLast(handle.pool, MIGRATIONS_DIR, planned.tag).catch(explainPermission);
      if (ctx.json) return writeJson(ctx.io, { rolledBack: undone.tag });
      writeLines(ctx.io, `Rolled back ${undone.tag} on ${target.description.label}.`);
    });
  },
};

/** --yes, or a "y" on the terminal; anything else leaves the database as it is. */
async function confirmRollback(ctx: CommandContext, file: MigrationFile, label: string): Promise<void> {
  if (ctx.flag("yes")) return;
  const effect = describeDown(file);
  const { confirm } = ctx.io;
  if (!confirm) {
    throw new CliError(
      `Not rolled back: rolling back ${file.tag} on ${label} ${effect}. Run again with --yes to confirm.`,
    );
  }
  if (!(await confirm(`Roll back ${file.tag} on ${label}? It ${effect}.`))) {
    throw new CliError("Not rolled back.");
  }
}

export const migrationCommands: Command[] = [migrate, status, rollback];

function statusTable(migrations: MigrationStatus[]): string {
  if (migrations.length === 0) return "No migrations in the journal.";
  const rows = migrations.map((m) => ({ ...m, down: m.hasDown ? "yes" : "missing" }));
  return formatTable(rows, [
    { key: "tag", title: "Migration" },
    { key: "createdAt", title: "Date" },
    { key: "state", title: "State" },
    { key: "down", title: "Down" },
  ]);
}

function toJson(m: MigrationStatus) {
  return { tag: m.tag, createdAt: m.createdAt.toISOString(), state: m.state, hasDown: m.hasDown };
}

/** Rows the migrator will not handle by itself deserve a word on stderr. */
function warnAboutDrift(io: Io, migrations: MigrationStatus[]): void {
  for (const m of migrations) {
    if (m.state === "changed") io.stderr(`Warning: ${m.tag}.sql changed after it was applied\n`);
    if (m.state === "skipped")
      io.stderr(`Warning: ${m.tag} is older than the newest applied migration and will not run\n`);
    if (m.state === "unknown")
      io.stderr(`Warning: an applied migration (${m.createdAt.toISOString()}) is not in the journal\n`);
  }
}

/** The app's least-privilege role cannot create tables: say who should run this instead. */
function explainPermission(error: unknown): never {
  const code = (error as { cause?: { code?: unknown }; code?: unknown }) ?? {};
  if (code.code === "42501" || code.cause?.code === "42501") {
    throw new CliError(
      "Permission denied: run migrations as the role that owns the tables (the app's role from `gravy db grants` may only read and write rows)",
    );
  }
  throw error;
}
