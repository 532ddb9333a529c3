/** The figures of one run: printed as one table and written to bench/results/latest.json. */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { HashTimes } from "./hashing";
import { type LoadFigures, type LoadSettings, MIN_ROUNDS } from "./load";
import type { MemoryReading, RequestCpu } from "./runtime";
import type { ScenarioName, WasmReading } from "./types";

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
  requestCpu: { argon2id: RequestCpu; scrypt: RequestCpu };
  memory: MemoryReading & { wasm: WasmReading };
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
  const { settings } = results;
  return [
    `Turkey bench, ${results.date}`,
    results.machine,
    `${settings.connections} connections; per scenario ${settings.warmupSeconds} s warm-up, ` +
      `then a window of ${settings.seconds} s or ${MIN_ROUNDS} rounds of requests, whichever is longer`,
    "",
    ...alignColumns([header, ...rows]),
    "",
    ...formatPasswordFigures(results),
    `worker bundle: ${kib(results.bundleBytes)} KiB, ${kib(results.bundleGzipBytes)} KiB gzip`,
    `SDK (browser client, min + gzip): ${
      results.sdkGzipBytes === null ? "not measured" : `${results.sdkGzipBytes} bytes`
    }`,
  ].join("\n");
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** Argon2id against scrypt: per hash, per second under load, per login in CPU, in memory. */
function formatPasswordFigures({ hashMs, scenarios, requestCpu, memory, settings }: Results): string[] {
  const rps = (name: string) => scenarios.find((scenario) => scenario.name === name)?.rps ?? Number.NaN;
  const versus = (name: string) =>
    `Argon2id ${rps(name).toFixed(1)}, scrypt ${rps(`${name}-scrypt`).toFixed(1)}: ` +
    `×${(rps(name) / rps(`${name}-scrypt`)).toFixed(2)}`;
  const cpu = (figure: RequestCpu, hash: number) =>
    `${figure.loginMs.toFixed(1)} ms = ${(figure.loginMs / hash).toFixed(2)} × one hash's CPU (${hash.toFixed(1)} ms)`;
  const wasm = memory.wasm.bytes;
  return [
    `password hash, median of ${hashMs.samples} in workerd: Argon2id (${hashMs.argon2Params}) ` +
      `${hashMs.argon2id.toFixed(1)} ms; scrypt (${hashMs.scryptParams}) native ` +
      `${hashMs.scryptNative.toFixed(1)} ms, noble ${hashMs.scryptNoble.toFixed(1)} ms; ` +
      `Argon2id ÷ scrypt native = ${(hashMs.argon2id / hashMs.scryptNative).toFixed(2)} (target ≤ 0.45)`,
    `password hash CPU (hashing worker's workerd process): Argon2id ${hashMs.argon2idCpu.toFixed(1)} ms, ` +
      `scrypt native ${hashMs.scryptNativeCpu.toFixed(1)} ms: ${(hashMs.argon2idCpu / hashMs.scryptNativeCpu).toFixed(2)}`,
    `login req/s: ${versus("login")} (target ≥ 2); register req/s: ${versus("register")}`,
    `login CPU, ${requestCpu.argon2id.requests} one at a time (the Worker's workerd process): ` +
      `Argon2id ${cpu(requestCpu.argon2id, hashMs.argon2idCpu)} (target ≤ 1.1), ` +
      `scrypt ${cpu(requestCpu.scrypt, hashMs.scryptNativeCpu)}; GET /health (connection + one ` +
      `statement, no hash) ${requestCpu.argon2id.healthMs.toFixed(1)} ms`,
    `isolate memory during ${settings.connections} concurrent logins (V8 inspector, ${memory.samples} samples): ` +
      `JS heap ≤ ${mib(memory.heapUsedBytes)} MiB used (garbage included) / ${mib(memory.heapTotalBytes)} MiB ` +
      `allocated, ${mib(memory.heapLiveBytes)} MiB live after a full GC; ` +
      `WebAssembly ${mib(wasm)} MiB (after ${memory.wasm.logins} concurrent logins, counting run) → ≤ ` +
      `${mib(memory.heapTotalBytes + wasm)} MiB of 128 MB; the Worker's workerd process ≤ ` +
      `${mib(memory.processRssBytes)} MiB resident (all of the runtime: every isolate, V8, workerd)`,
  ];
}

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
