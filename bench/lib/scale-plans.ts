/**
 * The scale bench's plans: what the app sends on its hot paths (captured in workerd by
 * bench/counting/plans.scale.ts) and each cleanup batch as the cron sends it, all planned
 * with EXPLAIN on the large database. A sequential scan of a large table — one that grows
 * with users and traffic and holds at least LARGE_ROWS rows here — fails the run. On a table
 * of a few thousand rows a sequential scan is the planner's right choice, so the tiny run
 * prints its plans and fails on none (test/query-plans.test.ts checks small data instead).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import { DEFAULT_BATCH_SIZE } from "../../src/cron/cleanup";
import { batchStatement, retentionRules } from "../../src/cron/retention";
import type { Database } from "./environment";
import { scansOf, sequentialScansOfLargeTables } from "./plans";
import { runCommand } from "./processes";
import type { PlannedStatement } from "./types";

export interface CheckedPlan extends PlannedStatement {
  /** Index names the plan uses. */
  indexes: string[];
  seqScans: string[];
}

export const RETENTION = { auditRetentionDays: 400, auditPiiDays: 30 };

export const LARGE_ROWS = 100_000;

export async function planHotStatements(
  dir: string,
  database: Database,
  vars: Record<string, string>,
): Promise<CheckedPlan[]> {
  const served = await planServedStatements(dir, database, vars);
  const cleanup = await planCleanupStatements(database.url);
  const rows = await tableRows(database.url);
  return [...served, ...cleanup].map((statement) => {
    const scans = scansOf(statement.plan);
    return {
      ...statement,
      indexes: [...new Set(scans.flatMap((scan) => (scan.index ? [scan.index] : [])))],
      seqScans: sequentialScansOfLargeTables(scans)
        .map((scan) => scan.relation ?? "?")
        .filter((table) => (rows.get(table) ?? 0) >= LARGE_ROWS),
    };
  });
}

/** Rows per table as the planner knows them (ANALYZE ran after the seeding). */
async function tableRows(url: string): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ relname: string; reltuples: number }>(
      "select relname, reltuples from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace",
    );
    return new Map(rows.map((row) => [row.relname, Number(row.reltuples)]));
  } finally {
    await client.end();
  }
}

async function planServedStatements(
  dir: string,
  database: Database,
  vars: Record<string, string>,
): Promise<PlannedStatement[]> {
  const report = path.join(dir, "plans.json");
  const args = ["vitest", "run", "--config", "bench/vitest.config.ts", "--reporter=default"];
  await runCommand("plan run", "npx", [...args, "--reporter=json", `--outputFile.json=${report}`], {
    logFile: path.join(dir, "plans.log"),
    env: {
      ...process.env,
      BENCH_SUITE: "scale",
      BENCH_DATABASE_URL: database.hyperdriveUrl,
      BENCH_WORKER_VARS: JSON.stringify(vars),
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: database.hyperdriveUrl,
      WRANGLER_SEND_METRICS: "false",
    },
  });
  const parsed = JSON.parse(await readFile(report, "utf8")) as {
    testResults: { assertionResults: { meta?: { plans?: PlannedStatement[] } }[] }[];
  };
  const plans = parsed.testResults.flatMap((file) =>
    file.assertionResults.flatMap((test) => test.meta?.plans ?? []),
  );
  if (plans.length === 0) throw new Error("the plan run reported no statement");
  return plans;
}

/** Each cleanup batch exactly as runCleanup sends it, planned without running it. */
async function planCleanupStatements(url: string): Promise<PlannedStatement[]> {
  const dialect = new PgDialect();
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    const plans: PlannedStatement[] = [];
    for (const rule of retentionRules(RETENTION)) {
      const { sql, params } = dialect.sqlToQuery(batchStatement(rule, DEFAULT_BATCH_SIZE));
      const json = await client.query(`explain (format json) ${sql}`, params);
      const text = await client.query(`explain ${sql}`, params);
      plans.push({
        sql,
        plan: (json.rows[0] as { "QUERY PLAN": unknown })["QUERY PLAN"],
        text: text.rows.map((row: { "QUERY PLAN": string }) => row["QUERY PLAN"]).join("\n"),
      });
    }
    return plans;
  } finally {
    await client.end();
  }
}

/** The statement's first line (whitespace folded), then its plan, indented. */
export function formatPlans(plans: CheckedPlan[]): string {
  return plans
    .map((plan) => {
      const statement = plan.sql.replace(/\s+/g, " ").trim();
      const head = statement.length > 110 ? `${statement.slice(0, 107)}…` : statement;
      const verdict = plan.seqScans.length > 0 ? `  ✗ SEQ SCAN of ${plan.seqScans.join(", ")}` : "";
      return `${head}${verdict}\n${plan.text.replace(/^/gm, "    ")}`;
    })
    .join("\n");
}
