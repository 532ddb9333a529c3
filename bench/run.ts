/**
 * `npm run bench [-- --quick]`: Turkey under load on workerd, against a bare Hono worker on
 * the same runtime (the ceiling), plus counted SQL and KV round trips, password hashing cost,
 * and the sizes of what ships. Prints one table and writes bench/results/latest.json.
 * `-- --scale [--tiny]` runs the scale scenario instead (./lib/scale.ts), `-- --soak
 * [--seconds N]` the soak through database faults (./lib/soak.ts).
 *
 * Exits non-zero only when the set-up fails or a scenario had errors (or completed nothing),
 * never on a figure: the figures of a shared 2-core machine are too noisy to gate on.
 */

import { buildDocsAssets } from "../scripts/docs-assets";
import { type Counts, countOperations } from "./lib/counts";
import { createWorkDir, type Servers, startDatabase, startWorkers, workerVariables } from "./lib/environment";
import { createFixtures, type Fixtures } from "./lib/fixtures";
import { timeHashing } from "./lib/hashing";
import { type LoadFigures, type LoadSettings, measure } from "./lib/load";
import { cleanUp, cleanUpOnSignals, logTail } from "./lib/processes";
import {
  describeMachine,
  formatReport,
  RESULTS_FILE,
  type Results,
  type ScenarioResult,
  writeResults,
} from "./lib/report";
import { type MemoryReading, measureRequestCpu, sampleMemoryDuring } from "./lib/runtime";
import { runScale } from "./lib/scale";
import { buildScenarios } from "./lib/scenarios";
import { buildWorker, measureSdk } from "./lib/sizes";
import { DEFAULT_SOAK_SECONDS, runSoak } from "./lib/soak";

const FULL = { connections: 10, warmupSeconds: 3, seconds: 10, hashSamples: 9, cpuLogins: 20 };
const QUICK = { connections: 10, warmupSeconds: 1, seconds: 3, hashSamples: 3, cpuLogins: 5 };

type Settings = LoadSettings & { hashSamples: number; cpuLogins: number };

async function run(settings: Settings): Promise<Results> {
  const dir = await createWorkDir();
  const vars = workerVariables();
  step("embedded PostgreSQL: start, migrate, register the app");
  const database = await startDatabase(dir);
  step("build: Turkey and the ceiling worker (wrangler deploy --dry-run)");
  await buildDocsAssets();
  const turkey = await buildWorker(dir, "turkey", "wrangler.toml");
  const ceiling = await buildWorker(dir, "ceiling", "bench/ceiling/wrangler.toml");
  step("counting run in the workers pool: SQL statements and KV reads per operation");
  const { counts, wasm } = await countOperations(dir, database, vars);
  // Alone and before the load, so that nothing else competes for the CPU meanwhile.
  step("password hashing inside workerd");
  const hashMs = await timeHashing(dir, settings.hashSamples);
  step("wrangler dev: Turkey, Turkey with PASSWORD_HASH=scrypt, and the ceiling worker");
  const servers = await startWorkers(dir, database, vars, { turkey, ceiling });
  const fixtures = await createFixtures(servers.turkeyUrl, servers.turkeyScryptUrl, database.url);
  const { scenarios, memory } = await loadAll(servers, fixtures, counts, settings);
  step(`CPU per request: ${settings.cpuLogins} logins and health checks one at a time, per Turkey`);
  const requestCpu = {
    argon2id: await measureRequestCpu(servers.turkey, fixtures.email, settings.cpuLogins),
    scrypt: await measureRequestCpu(servers.turkeyScrypt, fixtures.scryptEmail, settings.cpuLogins),
  };
  step("SDK size");
  const sdkGzipBytes = await measureSdk();
  return {
    date: new Date().toISOString(),
    machine: await describeMachine(),
    settings,
    scenarios,
    hashMs,
    requestCpu,
    memory: { ...memory, wasm },
    bundleBytes: turkey.bytes,
    bundleGzipBytes: turkey.gzipBytes,
    sdkGzipBytes,
  };
}

/**
 * Every scenario in turn, the ceiling first: the others are reported relative to it. The
 * isolate's memory is sampled while `login` runs its ten concurrent connections.
 */
async function loadAll(
  servers: Servers,
  fixtures: Fixtures,
  counts: Counts,
  settings: LoadSettings,
): Promise<{ scenarios: ScenarioResult[]; memory: MemoryReading }> {
  const results: ScenarioResult[] = [];
  let memory: MemoryReading | undefined;
  for (const scenario of buildScenarios(servers, fixtures)) {
    step(`load: ${scenario.name}`);
    let figures: LoadFigures;
    if (scenario.name === "login")
      [figures, memory] = await sampleMemoryDuring(servers.turkey, measure(scenario, settings));
    else figures = await measure(scenario, settings);
    const counted = scenario.name === "ceiling" ? undefined : counts.get(scenario.name);
    results.push({
      name: scenario.name,
      ...figures,
      ratioToCeiling: figures.rps / (results[0]?.rps ?? figures.rps),
      sqlPerOp: counted?.sql ?? null,
      kvReadsPerOp: counted?.kvReads ?? null,
    });
  }
  if (results.some((result) => result.errors > 0)) {
    console.error(`Turkey's last log lines:\n${logTail(servers.turkeyLogFile)}`);
  }
  if (!memory) throw new Error("the login scenario did not run");
  return { scenarios: results, memory };
}

function describeFailure(scenario: ScenarioResult): string[] {
  if (scenario.errors > 0) return [`${scenario.name}: ${scenario.errors} errors (${scenario.errorDetail})`];
  if (scenario.completed === 0) return [`${scenario.name}: no request completed in the measured window`];
  return [];
}

function step(text: string): void {
  console.log(`▸ ${text}`);
}

async function main(): Promise<number> {
  cleanUpOnSignals();
  const args = process.argv.slice(2);
  if (args.includes("--scale") || args.includes("--tiny"))
    return runAlone(() => runScale(args.includes("--tiny"), step));
  if (args.includes("--soak")) return runAlone(() => runSoak(soakSeconds(args), step));
  const settings: Settings = process.argv.includes("--quick") ? QUICK : FULL;
  try {
    const results = await run(settings);
    await writeResults(results);
    console.log(`\n${formatReport(results)}\n\nwritten to ${RESULTS_FILE}`);
    const failures = results.scenarios.flatMap(describeFailure);
    for (const failure of failures) console.error(failure);
    return failures.length > 0 ? 1 : 0;
  } catch (error) {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    step("stopping what the bench started");
    await cleanUp();
  }
}

/** A separate scenario: its own set-up, report and exit code, the same cleanup. */
async function runAlone(scenario: () => Promise<number>): Promise<number> {
  try {
    return await scenario();
  } catch (error) {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    step("stopping what the bench started");
    await cleanUp();
  }
}

/** `--seconds N` after `--soak`; about three minutes unless said. */
function soakSeconds(args: string[]): number {
  const given = args.indexOf("--seconds");
  const seconds = given >= 0 ? Number(args[given + 1]) : DEFAULT_SOAK_SECONDS;
  if (!Number.isFinite(seconds) || seconds < 60) throw new Error("--seconds must be a number ≥ 60");
  return seconds;
}

main().then((code) => process.exit(code));
