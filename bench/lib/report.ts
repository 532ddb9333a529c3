/** The figures of one run: printed as one table and written to bench/results/latest.json. */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { HashTimes } from "./hashing";
import { type LoadFigures, type LoadSettings, MIN_ROUNDS } from "./load";
import type { ScenarioName } from "./types";

export interface ScenarioResult extends LoadFigures {
  name: ScenarioName;
  ratioToCeiling: number;
  /** Counted in the counting run; null for the ceiling, which has no database. */
  sqlPerOp: number | null;
  kvReadsPerOp: number | null;
}

export interface Results {
  date: string;
  machine: string;
  settings: LoadSettings;
  scenarios: ScenarioResult[];
  hashMs: HashTimes;
  bundleBytes: number;
  bundleGzipBytes: number;
  sdkGzipBytes: number | null;
}

export const RESULTS_FILE = "bench/results/latest.json";

export async function writeResults(results: Results): Promise<void> {
  await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
}

/** CPU, cores, memory, Node, and the wrangler and workerd that served the load. */
export async function describeMachine(): Promise<string> {
  const cpus = os.cpus();
  const memoryGiB = Math.round(os.totalmem() / 2 ** 30);
  const require = createRequire(import.meta.url);
  const wranglerPackage = require.resolve("wrangler/package.json");
  const workerdPackage = createRequire(wranglerPackage).resolve("workerd/package.json");
  const version = async (file: string) =>
    (JSON.parse(await readFile(file, "utf8")) as { version: string }).version;
  return [
    `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores, ${memoryGiB} GiB`,
    `${os.type()} ${os.release()}`,
    `Node ${process.version}`,
    `wrangler ${await version(wranglerPackage)} (workerd ${await version(workerdPackage)})`,
  ].join("; ");
}

export function formatReport(results: Results): string {
  const header = [
    "scenario",
    "window s",
    "req/s",
    "×ceiling",
    "p50 ms",
    "p99 ms",
    "errors",
    "SQL/op",
    "KV reads/op",
  ];
  const rows = results.scenarios.map((s) => [
    s.name,
    String(s.seconds),
    s.rps.toFixed(1),
    s.ratioToCeiling.toFixed(2),
    String(s.p50Ms),
    String(s.p99Ms),
    String(s.errors),
    s.sqlPerOp === null ? "–" : String(s.sqlPerOp),
    s.kvReadsPerOp === null ? "–" : String(s.kvReadsPerOp),
  ]);
  const { settings, hashMs } = results;
  return [
    `Turkey bench, ${results.date}`,
    results.machine,
    `${settings.connections} connections; per scenario ${settings.warmupSeconds} s warm-up, ` +
      `then a window of ${settings.seconds} s or ${MIN_ROUNDS} rounds of requests, whichever is longer`,
    "",
    ...alignColumns([header, ...rows]),
    "",
    `password hash (scrypt ${hashMs.params}, median of ${hashMs.samples} in workerd): ` +
      `native ${hashMs.native.toFixed(1)} ms, noble ${hashMs.noble.toFixed(1)} ms`,
    `worker bundle: ${kib(results.bundleBytes)} KiB, ${kib(results.bundleGzipBytes)} KiB gzip`,
    `SDK (browser client, min + gzip): ${
      results.sdkGzipBytes === null ? "not measured" : `${results.sdkGzipBytes} bytes`
    }`,
  ].join("\n");
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);

/** First column left-aligned, the figures right-aligned. */
function alignColumns(table: string[][]): string[] {
  const widths =
    table[0]?.map((_, column) => Math.max(...table.map((row) => row[column]?.length ?? 0))) ?? [];
  return table.map((row) =>
    row
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return column === 0 ? cell.padEnd(width) : cell.padStart(width);
      })
      .join("  "),
  );
}
