/**
 * What ships, built once per run: each worker as `wrangler deploy` would upload it (the bench
 * then serves exactly these files and a copy of their configuration, so edits to the working
 * tree during a run change nothing), and the browser SDK as an app would bundle it.
 */
import { existsSync } from "node:fs";
import { copyFile, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { measureSdkSize } from "../../scripts/sdk-size";
import { runCommand } from "./processes";

export interface BuiltWorker {
  /** The bundled entry module, for `wrangler dev --no-bundle`. */
  entry: string;
  /** A copy of the configuration taken with the build: wrangler dev restarts when its config changes. */
  configPath: string;
  bytes: number;
  gzipBytes: number;
}

/** Wrangler's dry run writes the upload without sending it; only its modules count. */
export async function buildWorker(dir: string, name: string, configPath: string): Promise<BuiltWorker> {
  const outdir = path.join(dir, `build-${name}`);
  const configCopy = path.join(dir, `${name}.wrangler.toml`);
  await copyFile(configPath, configCopy);
  const args = ["wrangler", "deploy", "--dry-run", "--config", configPath, "--outdir", outdir];
  await runCommand(`build of ${name}`, "npx", args, {
    logFile: path.join(dir, `build-${name}.log`),
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const entry = path.join(outdir, "index.js");
  if (!existsSync(entry)) throw new Error(`wrangler wrote no index.js into ${outdir}`);
  const modules = (await readdir(outdir, { recursive: true })).filter((file) => /\.(m?js|wasm)$/.test(file));
  let bytes = 0;
  let gzipBytes = 0;
  for (const file of modules) {
    const content = await readFile(path.join(outdir, file));
    bytes += content.byteLength;
    gzipBytes += gzipSync(content).byteLength;
  }
  return { entry, configPath: configCopy, bytes, gzipBytes };
}

/** Minified and gzipped browser client, or null (with the reason logged) if it cannot be built. */
export async function measureSdk(): Promise<number | null> {
  try {
    return (await measureSdkSize()).gzippedBytes;
  } catch (error) {
    console.error(`SDK size not measured: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}
