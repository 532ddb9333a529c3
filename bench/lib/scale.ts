/**
 * `npm run bench -- --scale [--tiny]`: Turkey with a million users. Two databases on one
 * Postgres server, one seeded large and one left empty, each served by its own Turkey from
 * the same build; every scenario runs against both in turn, so each large figure has an
 * empty one from the same minute to be divided by. Then the hot statements' plans on the
 * large database, and one cleanup over its backlog while refreshes keep arriving.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { buildDocsAssets } from "../../scripts/docs-assets";
import {
  addDatabase,
  createWorkDir,
  type Database,
  startDatabase,
  startTurkeyWorker,
  workerVariables,
} from "./environment";
import { createFixtures, type Fixtures } from "./fixtures";
import { type LoadFigures, type LoadSettings, measure } from "./load";
import { findPostmaster, postgresCpuMs } from "./postgres-cpu";
import { logTail, waitUntilServing } from "./processes";
import { describeMachine } from "./report";
import { type CleanupFigures, measureCleanup } from "./scale-cleanup";
import { backlogRows, FULL_SIZE, type ScaleSize, seedScaleData, TINY_SIZE } from "./scale-data";
import { type CheckedPlan, formatPlans, planHotStatements } from "./scale-plans";
import { formatScaleReport } from "./scale-report";
import { buildScenarios, type Scenario } from "./scenarios";
import { buildWorker } from "./sizes";
import type { ScenarioName } from "./types";

/** `health` (a connection and one statement) is the baseline of Postgres's CPU per request. */
export const SCALE_SCENARIOS: ScenarioName[] = [
  "health",
  "login",
  "refresh",
  "me",
  "introspect-valid",
  "register",
];

const FULL_LOAD: LoadSettings = { connections: 10, warmupSeconds: 2, seconds: 8 };
const TINY_LOAD: LoadSettings = { connections: 4, warmupSeconds: 1, seconds: 2 };

export interface ScaleComparison {
  name: ScenarioName;
  empty: LoadFigures;
  large: LoadFigures;
  ratio: number;
  /** CPU milliseconds of the Postgres server per answered request, on each database. */
  postgresCpuMs: { empty: number; large: number };
}

export interface ScaleResults {
  date: string;
  machine: string;
  tiny: boolean;
  size: ScaleSize;
  seedSeconds: number;
  settings: LoadSettings;
  comparisons: ScaleComparison[];
  plans: CheckedPlan[];
  cleanup: CleanupFigures;
}

export const SCALE_RESULTS_FILE = "bench/results/scale.json";

export async function runScale(tiny: boolean, step: (text: string) => void): Promise<number> {
  const size = tiny ? TINY_SIZE : FULL_SIZE;
  const settings = tiny ? TINY_LOAD : FULL_LOAD;
  const dir = await createWorkDir();
  const vars = workerVariables();
  step("embedded PostgreSQL: a database to fill and an empty one");
  const large = await startDatabase(dir);
  const empty = await addDatabase(large, "turkey_empty");
  step("build Turkey (wrangler deploy --dry-run) and serve it twice: on the large and on the empty database");
  await buildDocsAssets();
  const build = await buildWorker(dir, "turkey", "wrangler.toml");
  const turkeys = {
    large: await startTurkeyWorker(dir, "turkey-large", build, large, vars),
    empty: await startTurkeyWorker(dir, "turkey-empty", build, empty, vars),
  };
  for (const turkey of Object.values(turkeys)) await waitUntilServing(turkey.service, `${turkey.url}/health`);
  const fixtures = {
    large: await createFixtures(turkeys.large.url, turkeys.large.url, large.url),
    empty: await createFixtures(turkeys.empty.url, turkeys.empty.url, empty.url),
  };
  step(
    `seed: ${size.users} users, ${size.refreshRows} refresh rows, ${size.revokedJti} revocations, ${size.auditRows} audit rows`,
  );
  const seedStarted = performance.now();
  await seedScaleData(large.url, size, await passwordHashOf(large, fixtures.large.email));
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  await analyze(empty);
  const postmaster = findPostmaster(path.join(dir, "postgres"));
  const comparisons = await compare(turkeys, fixtures, settings, postmaster, step);
  step("plans of the hot statements on the large database");
  const plans = await planHotStatements(dir, large, vars);
  step(`cleanup of ${backlogRows(size)} rows past retention, refreshes arriving meanwhile`);
  const cleanup = await measureCleanup(turkeys.large.url, fixtures.large.email, large.url);
  const results: ScaleResults = {
    date: new Date().toISOString(),
    machine: await describeMachine(),
    tiny,
    size,
    seedSeconds,
    settings,
    comparisons,
    plans,
    cleanup,
  };
  await mkdir(path.dirname(SCALE_RESULTS_FILE), { recursive: true });
  await writeFile(SCALE_RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n${formatPlans(plans)}\n\n${formatScaleReport(results)}\n\nwritten to ${SCALE_RESULTS_FILE}`);
  const failures = describeFailures(results);
  if (comparisons.some((comparison) => comparison.empty.errors + comparison.large.errors > 0)) {
    console.error(`Turkey's last log lines:\n${logTail(turkeys.large.service.logFile)}`);
  }
  for (const failure of failures) console.error(failure);
  return failures.length > 0 ? 1 : 0;
}

async function compare(
  turkeys: Record<"large" | "empty", { url: string }>,
  fixtures: Record<"large" | "empty", Fixtures>,
  settings: LoadSettings,
  postmaster: number,
  step: (text: string) => void,
): Promise<ScaleComparison[]> {
  const scenarios = (side: "large" | "empty") => {
    const url = turkeys[side].url;
    return buildScenarios({ turkeyUrl: url, turkeyScryptUrl: url, ceilingUrl: url }, fixtures[side]);
  };
  const large = scenarios("large");
  const empty = scenarios("empty");
  const comparisons: ScaleComparison[] = [];
  for (const name of SCALE_SCENARIOS) {
    step(`load: ${name}, on the empty database, then on the large one`);
    const pick = (list: typeof large) => {
      const scenario = list.find((candidate) => candidate.name === name);
      if (!scenario) throw new Error(`no scenario ${name}`);
      return scenario;
    };
    const measured = async (scenario: Scenario) => {
      const before = postgresCpuMs(postmaster);
      const figures = await measure(scenario, settings);
      return { figures, cpuMs: (postgresCpuMs(postmaster) - before) / Math.max(1, figures.answered) };
    };
    const onEmpty = await measured(pick(empty));
    const onLarge = await measured(pick(large));
    comparisons.push({
      name,
      empty: onEmpty.figures,
      large: onLarge.figures,
      ratio: onLarge.figures.rps / onEmpty.figures.rps,
      postgresCpuMs: { empty: onEmpty.cpuMs, large: onLarge.cpuMs },
    });
  }
  return comparisons;
}

/** The fixture user's real hash: every seeded user shares it, so their logins verify. */
async function passwordHashOf(database: Database, email: string): Promise<string> {
  const client = new pg.Client({ connectionString: database.url });
  client.on("error", () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ password_hash: string }>(
      "select password_hash from users where email = $1",
      [email],
    );
    if (!rows[0]) throw new Error(`no user ${email}`);
    return rows[0].password_hash;
  } finally {
    await client.end();
  }
}

async function analyze(database: Database): Promise<void> {
  const client = new pg.Client({ connectionString: database.url });
  client.on("error", () => {});
  await client.connect();
  await client.query("analyze").finally(() => client.end());
}

/** Errors, requests that never completed, and sequential scans of large tables; never a figure. */
function describeFailures(results: ScaleResults): string[] {
  const failures: string[] = [];
  for (const { name, empty, large } of results.comparisons) {
    for (const [side, figures] of [
      ["empty", empty],
      ["large", large],
    ] as const) {
      if (figures.errors > 0)
        failures.push(`${name} (${side}): ${figures.errors} errors (${figures.errorDetail})`);
      else if (figures.completed === 0) failures.push(`${name} (${side}): no request completed`);
    }
  }
  for (const plan of results.plans) {
    if (plan.seqScans.length > 0) {
      failures.push(
        `sequential scan of ${plan.seqScans.join(", ")}: ${plan.sql.replace(/\s+/g, " ").slice(0, 120)}`,
      );
    }
  }
  const { cleanup } = results;
  if (cleanup.refreshDuring.errors + cleanup.refreshAlone.errors > 0) {
    failures.push(
      `refresh during the cleanup: ${cleanup.refreshDuring.errors + cleanup.refreshAlone.errors} errors`,
    );
  }
  if (cleanup.rows < backlogRows(results.size)) {
    failures.push(`the cleanup deleted ${cleanup.rows} rows of a backlog of ${backlogRows(results.size)}`);
  }
  return failures;
}
