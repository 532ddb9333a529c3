/** `gravy db health`: connection, pool, sizes, revocations, activity, indexes, last cleanup. */
import { parseDatabaseConfig } from "../../config";
import type { Command } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { collectHealth, type HealthReport } from "../health";
import { formatBytes, formatFields, formatTable, section, writeJson, writeLines } from "../output";
import { HYPERDRIVE_MIN_CONNECTIONS } from "../server-checks";

export const healthCommand: Command = {
  name: "db health",
  summary: "Check the database: connection, TLS, version, pools, sizes, revoked JTIs, activity, indexes.",
  details: "Exits with 1 when the database cannot be reached.",
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    const pool = { min: target.poolMin, max: target.poolMax };
    const { auditRetentionDays, auditPiiDays } = parseDatabaseConfig(ctx.io.env);
    const retention = { auditRetentionDays, auditPiiDays };
    const report = await withDatabase(target, (handle) => collectHealth(handle, { pool, retention }));
    if (ctx.json)
      return writeJson(ctx.io, { status: "connected", database: target.description.label, ...report });
    writeLines(ctx.io, renderHealth(target.description.label, report));
  },
};

function renderHealth(label: string, report: HealthReport): string {
  return [
    section("Connection", renderConnection(label, report)),
    section("Connection pooling", renderPooling(report)),
    section("Table sizes", renderTables(report)),
    section("Revoked JTIs", renderRevoked(report)),
    section("Cleanup backlog (rows past retention, counted up to 10,000)", renderBacklog(report)),
    section(`Queries running over 5 s`, renderSlow(report)),
    section("Index usage (least used first)", renderIndexes(report)),
    section(
      "Columns that may need an index (pg_stats: n_distinct > 100, correlation < 0.1)",
      renderCandidates(report),
    ),
  ]
    .join("\n")
    .trimEnd();
}

function renderConnection(label: string, report: HealthReport): string {
  const { server, tls, pool, migrations } = report;
  const minimum = `PostgreSQL ${server.minimumMajor}`;
  return formatFields([
    ["Database", `${label} (connected as ${server.user})`],
    ["Server", server.version],
    ["Minimum version", server.supported ? `${minimum}: met` : `${minimum}: NOT met, upgrade the server`],
    [
      "TLS",
      tls.encrypted
        ? `yes (${tls.version}, ${tls.cipher})`
        : "no: this connection is not encrypted (production needs sslmode=require)",
    ],
    ["Active connections", `${report.activeConnections} (${pool.total} of them this check's pool)`],
    ["Migrations", `${migrations.applied} applied, ${migrations.pending} pending`],
    [
      "Last cleanup",
      `${report.lastCleanupAt ?? "never"}${report.cleanupIncomplete ? " (a newer run stopped with rows left; the next tick continues)" : ""}`,
    ],
  ]);
}

function renderBacklog(report: HealthReport): string {
  if (!report.cleanupBacklog) return "no tables yet: run `gravy db migrate`.";
  const rows = Object.entries(report.cleanupBacklog).map(([rule, rows]) => ({ rule, rows }));
  return formatTable(rows, [
    { key: "rule", title: "Rule" },
    { key: "rows", title: "Rows", align: "right" },
  ]);
}

/** The CLI's own pool, the server's limit, and what that leaves for Hyperdrive's pool. */
function renderPooling(report: HealthReport): string {
  const { pool, connectionLimits: limits } = report;
  const fits = limits.hyperdriveAtMost >= HYPERDRIVE_MIN_CONNECTIONS;
  const advice = fits
    ? `keep Hyperdrive's origin connection limit at most ${limits.hyperdriveAtMost} (${limits.forClients} - DB_POOL_MAX ${pool.max}), so this CLI can still connect`
    : `raise max_connections or lower DB_POOL_MAX: ${limits.forClients} - DB_POOL_MAX ${pool.max} leaves less than Hyperdrive's minimum`;
  const fields = formatFields([
    [
      "This CLI",
      `pg pool (DB_POOL_MIN ${pool.min}, DB_POOL_MAX ${pool.max}): ${pool.total} open, ${pool.idle} idle, ${pool.waiting} waiting`,
    ],
    [
      "The Worker",
      `Hyperdrive's pool (DB_POOL_* do not apply): at least ${HYPERDRIVE_MIN_CONNECTIONS}, at most its origin connection limit`,
    ],
    [
      "Server",
      `max_connections ${limits.maxConnections}, ${limits.reserved} reserved: ${limits.forClients} for clients`,
    ],
    ["Advice", advice],
  ]);
  if (!fits) return fields;
  const indent = " ".repeat("The Worker: ".length);
  return `${fields}\n${indent}npx wrangler hyperdrive update <hyperdrive-id> --origin-connection-limit=<n>`;
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

function renderCandidates(report: HealthReport): string {
  if (report.indexCandidates.length === 0) return "none (pg_stats fills as ANALYZE and autovacuum run)";
  const rows = report.indexCandidates.map((column) => ({
    ...column,
    distinct: Math.round(column.distinct),
    correlation: column.correlation.toFixed(2),
  }));
  return formatTable(rows, [
    { key: "table", title: "Table" },
    { key: "column", title: "Column" },
    { key: "distinct", title: "Distinct", align: "right" },
    { key: "correlation", title: "Correlation", align: "right" },
    { key: "indexed", title: "Indexed" },
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
