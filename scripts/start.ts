/**
 * `npm start`: the whole server locally with zero setup. Starts an embedded PostgreSQL
 * (unless DATABASE_URL names another database), migrates it, makes sure the app `demo`
 * exists, then runs the Worker under `wrangler dev` on PORT.
 *
 * Local state (`.turkey/`: the embedded database, the development secret, the Worker's env file,
 * local KV and Durable Object storage) lives in the working folder; the project's own files are
 * found from this script. So a fresh checkout starts as it is, and any folder can hold a state.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseEnv } from "node:util";
import { type DatabaseTarget, describeUrl, withDatabase } from "../src/cli/database";
import { developmentSecret } from "../src/cli/dev-secrets";
import { startEmbeddedPostgres } from "../src/cli/embedded-postgres";
import { CliError, describeFailure } from "../src/cli/errors";
import { WRANGLER_CONFIG, workerDatabaseUrl, wranglerScript } from "../src/cli/local-worker";
import { shortenWarnings } from "../src/cli/output";
import { readServerVersion, requireSupportedServer } from "../src/cli/server-version";
import { CONFIG_KEYS, parseConfig } from "../src/config";
import { applyMigrations, ensureApp } from "../src/db/migrate";
import { buildDocsAssets } from "./docs-assets";

const STATE_DIR = path.resolve(".turkey");
const EMBEDDED_PORT = Number(process.env.TURKEY_DB_PORT ?? 54329);

interface LocalDatabase {
  target: DatabaseTarget;
  /** The connection string the Worker's local Hyperdrive binding gets. */
  workerUrl: string;
  stop(): Promise<void>;
}

async function main(): Promise<void> {
  const vars = await loadVariables();
  const port = String(parseConfig(vars).port);
  const database = await openDatabase(vars.DATABASE_URL);
  let code = 1;
  try {
    await prepareDatabase(database.target, port);
    console.log(`Database ready; app "demo" registered. Starting Turkey on http://localhost:${port}`);
    await buildDocsAssets();
    code = await runWorker(port, await writeWorkerEnv(vars), database.workerUrl);
  } finally {
    await database.stop();
  }
  process.exit(code);
}

async function openDatabase(databaseUrl: string | undefined): Promise<LocalDatabase> {
  if (databaseUrl) {
    // Checked before any connection, so a URL the Worker cannot use changes nothing.
    const workerUrl = workerDatabaseUrl(databaseUrl, process.env.PGPASSWORD);
    return { target: localTarget(databaseUrl), workerUrl, stop: async () => {} };
  }
  const dataDir = path.join(STATE_DIR, "postgres");
  console.log(`Starting embedded PostgreSQL (data in ${dataDir}, port ${EMBEDDED_PORT}) …`);
  const embedded = await startEmbeddedPostgres({ dataDir, port: EMBEDDED_PORT, database: "turkey" });
  return { target: localTarget(embedded.url), workerUrl: embedded.url, stop: embedded.stop };
}

function localTarget(url: string): DatabaseTarget {
  return { url, poolMin: 0, poolMax: 1, production: false, description: { label: describeUrl(url) } };
}

/** Connects first (so failures read like the CLI's), then migrates and registers `demo`. */
async function prepareDatabase(target: DatabaseTarget, port: string): Promise<void> {
  await withDatabase(target, async (handle) => {
    requireSupportedServer(await readServerVersion(handle.pool), target.description.label);
    await applyMigrations(target.url);
    // Hosted pages, so the links in the dev log open a page.
    await ensureApp(target.url, {
      id: "demo",
      name: "Demo",
      url: `http://localhost:${port}`,
      hostedPages: true,
    });
  });
}

/** `wrangler dev` in its own process group; resolves to the exit code once all of it is gone. */
function runWorker(port: string, envFile: string, databaseUrl: string): Promise<number> {
  const wrangler = spawn(process.execPath, [wranglerScript(), ...wranglerDevArgs(port, envFile)], {
    stdio: "inherit",
    // Its own process group, so stopping reaches wrangler and workerd.
    detached: true,
    env: {
      ...process.env,
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: databaseUrl,
      WRANGLER_SEND_METRICS: "false",
    },
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (wrangler.pid) process.kill(-wrangler.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const stopping = forwardStopSignals(signalGroup);
  return new Promise((resolve) => {
    wrangler.on("exit", (code) => {
      // wrangler can exit before its workerd child; nothing it started may outlive it.
      signalGroup("SIGKILL");
      resolve(stopping() ? 0 : (code ?? 1));
    });
  });
}

function wranglerDevArgs(port: string, envFile: string): string[] {
  return [
    ...["dev", "--config", WRANGLER_CONFIG, "--port", port, "--env-file", envFile],
    ...["--persist-to", path.join(STATE_DIR, "wrangler")],
    // wrangler.toml routes the production domain; locally the Worker sees its real address.
    "--infer-origin-from-routes=false",
    ...process.argv.slice(2),
  ];
}

/**
 * Ctrl-C and SIGTERM go to the Worker's process group, once; main() stops the database after
 * the Worker has gone. The embedded-postgres package's own handlers would stop its server and
 * exit at once, with wrangler still shutting down, so they are replaced.
 */
function forwardStopSignals(signalGroup: (signal: NodeJS.Signals) => void): () => boolean {
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      signalGroup(signal);
    });
  }
  return () => stopping;
}

/** The merged variables reach the Worker through one env file (wrangler then skips .dev.vars). */
async function writeWorkerEnv(vars: Record<string, string>): Promise<string> {
  await mkdir(STATE_DIR, { recursive: true });
  // Sealing (TOTP, provider secrets) works locally with no setup; kept like the JWT secret.
  if (vars.NODE_ENV !== "production")
    vars.ENCRYPTION_KEY ??= await developmentSecret(process.cwd(), "ENCRYPTION_KEY");
  const envFile = path.join(STATE_DIR, "worker.env");
  await writeFile(envFile, toDotenv(vars), { mode: 0o600 });
  await chmod(envFile, 0o600);
  return envFile;
}

/** Defaults, then `.dev.vars`, then the shell: later wins. */
async function loadVariables(): Promise<Record<string, string>> {
  const vars: Record<string, string> = { NODE_ENV: "development" };
  if (existsSync(".dev.vars")) Object.assign(vars, parseEnv(await readFile(".dev.vars", "utf8")));
  for (const key of CONFIG_KEYS) {
    const value = process.env[key];
    if (value !== undefined) vars[key] = value;
  }
  for (const [key, value] of Object.entries(vars)) if (value === "") delete vars[key];
  if (vars.NODE_ENV === "production") {
    if (!vars.JWT_SECRET) throw new CliError("Invalid configuration: JWT_SECRET is required");
    return vars;
  }
  // Generated once and kept in .turkey/, where `gravy` finds it too (src/cli/dev-secrets.ts).
  vars.JWT_SECRET ??= await developmentSecret(process.cwd(), "JWT_SECRET");
  return vars;
}

/**
 * Writes variables in the dotenv syntax wrangler reads: each value in a quote it does not
 * contain (quoted values are taken literally), `$` escaped so it is never expanded.
 */
function toDotenv(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([key, value]) => {
      const quote = ["'", "`", '"'].find((q) => !value.includes(q));
      if (!quote) throw new CliError(`${key} cannot contain all three quote characters`);
      return `${key}=${quote}${value.replaceAll("$", "\\$")}${quote}`;
    })
    .join("\n")
    .concat("\n");
}

shortenWarnings();
main().catch((error: unknown) => {
  console.error(describeFailure(error));
  process.exit(1);
});
