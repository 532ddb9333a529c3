/** The scale bench's figures as text: data, ratios to the empty database, the cleanup. */
import { LARGE_TABLES } from "./plans";
import type { ScaleResults } from "./scale";
import type { LatencyFigures } from "./scale-cleanup";
import { backlogRows } from "./scale-data";
import { LARGE_ROWS } from "./scale-plans";

const count = (n: number) => n.toLocaleString("en-US");

export function formatScaleReport(results: ScaleResults): string {
  const { size, settings, cleanup } = results;
  const header = [
    "scenario",
    "empty req/s",
    "large req/s",
    "ratio",
    "empty p50",
    "large p50",
    "PG CPU/req empty",
    "large",
    "errors",
  ];
  const rows = results.comparisons.map(({ name, empty, large, ratio, postgresCpuMs }) => [
    name,
    empty.rps.toFixed(1),
    large.rps.toFixed(1),
    ratio.toFixed(2),
    `${empty.p50Ms} ms`,
    `${large.p50Ms} ms`,
    `${postgresCpuMs.empty.toFixed(2)} ms`,
    `${postgresCpuMs.large.toFixed(2)} ms`,
    String(empty.errors + large.errors),
  ]);
  const rules = Object.entries(cleanup.counts)
    .filter(([, rowsOfRule]) => rowsOfRule > 0)
    .map(([rule, rowsOfRule]) => `${rule} ${count(rowsOfRule)}`)
    .join(", ");
  const seqScans = results.plans.filter((plan) => plan.seqScans.length > 0).length;
  return [
    `Turkey scale bench${results.tiny ? " (tiny)" : ""}, ${results.date}`,
    results.machine,
    `large database: ${count(size.users)} users across 10 apps, ${count(size.refreshRows)} refresh rows, ` +
      `${count(size.revokedJti)} revoked_jti, ${count(size.auditRows)} audit rows, ${count(size.emailTokens)} email tokens ` +
      `(${count(backlogRows(size))} past retention); seeded and indexed in ${results.seedSeconds.toFixed(0)} s`,
    `${settings.connections} connections; per scenario and database ${settings.warmupSeconds} s warm-up, ` +
      `then ${settings.seconds} s or 3 rounds; ratio = large req/s ÷ empty req/s (goal ≥ 0.80)`,
    "",
    ...alignColumns([header, ...rows]),
    "PG CPU/req: CPU of the Postgres server per answered request (/proc; locally every request opens",
    `a connection, which is what health costs); ${refreshCost(results)}`,
    "",
    `plans: ${results.plans.length} hot statements, ${seqScans} with a sequential scan of a large table ` +
      `(one of ${LARGE_TABLES.join(", ")} holding ≥ ${count(LARGE_ROWS)} rows)`,
    `cleanup: ${count(cleanup.rows)} rows (${rules}) in ${cleanup.seconds.toFixed(1)} s over ${cleanup.runs} ` +
      `cron-sized runs = ${count(Math.round(cleanup.rowsPerSecond))} rows/s`,
    `refresh, 4 connections: alone ${latency(cleanup.refreshAlone)}; during the cleanup ${latency(cleanup.refreshDuring)}`,
    `longest lock wait seen during the cleanup: ${cleanup.longestLockWaitMs.toFixed(1)} ms ` +
      `(pg_stat_activity sampled every 10 ms, ${count(cleanup.lockSamples)} samples)`,
  ].join("\n");
}

/** What a refresh costs Postgres beyond a connection and a trivial statement (an upper bound). */
function refreshCost(results: ScaleResults): string {
  const cpu = (name: string) => results.comparisons.find((c) => c.name === name)?.postgresCpuMs;
  const refresh = cpu("refresh")?.large;
  // On the empty database: a connection and a trivial status query, no backlog to count.
  const health = cpu("health")?.empty;
  if (refresh === undefined || health === undefined) return "refresh not measured";
  const statementMs = Math.max(refresh - health, 0.01);
  return (
    `refresh on the large database beyond health on the empty one: ${statementMs.toFixed(2)} ms of Postgres CPU ` +
    `≈ ${count(Math.round(1000 / statementMs))} refreshes/s per Postgres core`
  );
}

function latency(figures: LatencyFigures): string {
  return `${figures.requests} requests, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, max ${figures.maxMs} ms`;
}

/** First column left-aligned, the figures right-aligned. */
function alignColumns(table: string[][]): string[] {
  const widths =
    table[0]?.map((_, column) => Math.max(...table.map((row) => row[column]?.length ?? 0))) ?? [];
  return table.map((row) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join("  "),
  );
}
