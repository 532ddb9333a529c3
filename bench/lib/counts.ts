/**
 * Runs bench/counting in the workers pool and reads its figures back from the JSON report:
 * SQL statements and KV reads per operation.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Database } from "./environment";
import { runCommand } from "./processes";
import { type CountedScenario, type OperationCount, SCENARIO_NAMES, type WasmReading } from "./types";

export type Counts = Map<CountedScenario, OperationCount>;

export interface CountingRun {
  counts: Counts;
  wasm: WasmReading;
}

interface JsonReport {
  testResults: { assertionResults: { meta?: { count?: OperationCount; wasm?: WasmReading } }[] }[];
}

export async function countOperations(
  dir: string,
  database: Database,
  vars: Record<string, string>,
): Promise<CountingRun> {
  const report = path.join(dir, "counts.json");
  const args = ["vitest", "run", "--config", "bench/vitest.config.ts", "--reporter=default"];
  await runCommand("counting run", "npx", [...args, "--reporter=json", `--outputFile.json=${report}`], {
    logFile: path.join(dir, "counting.log"),
    env: {
      ...process.env,
      BENCH_DATABASE_URL: database.hyperdriveUrl,
      BENCH_WORKER_VARS: JSON.stringify(vars),
      // Wrangler reads this while the pool loads wrangler.toml; it wins over the file's value.
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: database.hyperdriveUrl,
      WRANGLER_SEND_METRICS: "false",
    },
  });
  return readCounts(JSON.parse(await readFile(report, "utf8")) as JsonReport);
}

function readCounts(report: JsonReport): CountingRun {
  const counts: Counts = new Map();
  let wasm: WasmReading | undefined;
  for (const file of report.testResults) {
    for (const test of file.assertionResults) {
      if (test.meta?.count) counts.set(test.meta.count.name, test.meta.count);
      wasm ??= test.meta?.wasm;
    }
  }
  const missing = SCENARIO_NAMES.filter((name) => name !== "ceiling" && !counts.has(name));
  if (missing.length > 0) throw new Error(`counting run reported nothing for: ${missing.join(", ")}`);
  if (!wasm) throw new Error("counting run reported no WebAssembly memory reading");
  return { counts, wasm };
}
