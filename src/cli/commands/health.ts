/** `gravy db health`: connection, pool, sizes, revocations, activity, indexes, last cleanup. */
import type { Command } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { collectHealth, type HealthReport } from "../health";
import { formatBytes, formatFields, formatTable, section, writeJson, writeLines } from "../output";

export const healthCommand: Command = {
  name: "db health",
  summary: "Check the database: connection, pool, table sizes, revoked JTIs, activity, indexes.",
  details: "Exits with 1 when the database cannot be reached.",
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    const pool = { min: target.poolMin, max: target.poolMax };
    const report = await withDatabase(target, (handle) => collectHealth(handle, { pool }));
    if (ctx.json)
      return writeJson(ctx.io, { status: "connected", database: target.description.label, ...report });
    writeLines(ctx.io, renderHealth(target.description.label, report));
  },
};

function renderHealth(label: string, report: HealthReport): string {
  return [
    section("Connection", renderConnection(label, report)),
    section("Table sizes", renderTables(report)),
    section("Revoked JTIs", renderRevoked(report)),
    section(`Queries running over 5 s`, renderSlow(report)),
    section("Index usage (least used first)", renderIndexes(report)),
  ]
    .join("\n")
    .trimEnd();
}

function renderConnection(label: string, report: HealthReport): string {
  const { pool, migrations } = report;
  return formatFields([
    ["Database", `${label} (connected as ${report.server.user})`],
    ["Server", report.server.version],
    [
      "Pool",
      `min ${pool.min}, max ${pool.max}: ${pool.total} open, ${pool.idle} idle, ${pool.waiting} waiting`,
    ],
    ["Active connections", `${report.activeConnections} (${pool.total} of them this check's pool)`],
    ["Migrations", `${migrations.applied} applied, ${migrations.pending} pending`],
    ["Last cleanup", report.lastCleanupAt ?? "never"],
  ]);
}

function renderTables(report: HealthReport): string {
  if (report.tables.length === 0) return "No tables: run `gravy db migrate`.";
  const rows = report.tables.map((table) => ({ ...table, size: formatBytes(table.bytes) }));
  return formatTable(rows, [
    { key: "table", title: "Table" },
    { key: "size", title: "Size", align: "right" },
    { key: "rows", title: "Rows (est.)", align: "right" },
  ]);
}

function renderRevoked(report: HealthReport): string {
  const revoked = report.revokedJti;
  if (!revoked) return "revoked_jti does not exist yet: run `gravy db migrate`.";
  const totals = `total ${revoked.total}, expired ${revoked.expired}, active ${revoked.active}`;
  if (revoked.byApp.length === 0) return totals;
  const byApp = formatTable(revoked.byApp, [
    { key: "appId", title: "App" },
    { key: "total", title: "Total", align: "right" },
    { key: "active", title: "Active", align: "right" },
  ]);
  return `${totals}\n\n${byApp}`;
}

function renderSlow(report: HealthReport): string {
  if (report.slowQueries.length === 0) return "none";
  const rows = report.slowQueries.map((query) => ({ ...query, seconds: query.seconds.toFixed(1) }));
  return formatTable(rows, [
    { key: "pid", title: "PID", align: "right" },
    { key: "seconds", title: "Seconds", align: "right" },
    { key: "query", title: "Query" },
  ]);
}

function renderIndexes(report: HealthReport): string {
  if (report.indexes.length === 0) return "none";
  return formatTable(report.indexes, [
    { key: "table", title: "Table" },
    { key: "index", title: "Index" },
    { key: "scans", title: "Scans", align: "right" },
    { key: "tuplesRead", title: "Tuples read", align: "right" },
    { key: "tuplesFetched", title: "Tuples fetched", align: "right" },
  ]);
}
