/**
 * What a bench run stands on: a temporary folder, free ports in 58000–58999, an embedded
 * PostgreSQL (migrated, with the app `bench`), and `wrangler dev` processes that share one
 * wrangler and workerd: Turkey, the ceiling worker, and briefly the hashing worker.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { ASSETS_DIR } from "../../scripts/docs-assets";
import { createDatabaseIfMissing, startEmbeddedPostgres } from "../../src/cli/embedded-postgres";
import { parseConfig } from "../../src/config";
import { applyMigrations, ensureApp } from "../../src/db/migrate";
import { onCleanup, startService, waitUntilServing } from "./processes";
import type { BuiltWorker } from "./sizes";

export const APP_ID = "bench";

export interface Database {
  /** For Node tools. */
  url: string;
  /** For the Hyperdrive binding: plain TCP from workerd, no local TLS proxy in between. */
  hyperdriveUrl: string;
}

export interface Servers {
  turkeyUrl: string;
  /** The same bundle with PASSWORD_HASH=scrypt. */
  turkeyScryptUrl: string;
  ceilingUrl: string;
  /** Turkey's wrangler output, shown when a scenario had errors. */
  turkeyLogFile: string;
  /** The two Turkeys' processes and inspectors, for the CPU and memory readings. */
  turkey: Wrangler;
  turkeyScrypt: Wrangler;
}

export type Wrangler = Awaited<ReturnType<typeof startWrangler>>;

const PORT_RANGE = { first: 58_000, last: 58_999 };
const taken = new Set<number>();

/** A temporary folder for everything the run writes; removed at cleanup. */
export async function createWorkDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "turkey-bench-"));
  // As root, Postgres runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  // Ctrl-C can end the process before cleanup gets this far (the embedded database package
  // exits once its server is down); a synchronous removal at exit still runs then.
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The Worker's variables: production-like, except that rate limiting must never answer for
 * the server. The config caps RATE_LIMIT_MAX_REQUESTS at 1,000,000, so that many per 1 s
 * window (the shortest) is the highest allowance. Account lockout only follows failed
 * logins, which the bench never sends; its threshold is raised to the maximum all the same.
 */
export function workerVariables(): Record<string, string> {
  const vars = {
    NODE_ENV: "development",
    JWT_SECRET: randomBytes(36).toString("base64url"), // 48 characters
    RATE_LIMIT_WINDOW_MS: "1000",
    RATE_LIMIT_MAX_REQUESTS: "1000000",
    LOGIN_LOCKOUT_THRESHOLD: "100",
  };
  parseConfig(vars); // fail here, with the key named, rather than on every request
  return vars;
}

export async function startDatabase(dir: string): Promise<Database> {
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dir, "postgres"),
    port: await freePort(),
    database: "turkey_bench",
    persistent: false,
  });
  onCleanup(() => server.stop());
  return prepareDatabase(server.url);
}

/** A second database on the same server as `database`: migrated, with the app `bench`. */
export async function addDatabase(database: Database, name: string): Promise<Database> {
  const url = new URL(database.url);
  url.pathname = "/postgres";
  await createDatabaseIfMissing(url.href, name);
  url.pathname = `/${name}`;
  return prepareDatabase(url.href);
}

export async function prepareDatabase(url: string): Promise<Database> {
  await applyMigrations(url);
  await ensureApp(url, { id: APP_ID, name: "Bench", url: "http://127.0.0.1" });
  return { url, hyperdriveUrl: `${url}?sslmode=disable` };
}

/**
 * Turkey twice from one build (as configured, and with PASSWORD_HASH=scrypt) and the ceiling
 * worker, started side by side and awaited until they answer.
 */
export async function startWorkers(
  dir: string,
  database: Database,
  vars: Record<string, string>,
  builds: { turkey: BuiltWorker; ceiling: BuiltWorker },
): Promise<Servers> {
  const startTurkey = (name: string, variables: Record<string, string>) =>
    startTurkeyWorker(dir, name, builds.turkey, database, variables);
  const turkey = await startTurkey("turkey", vars);
  const turkeyScrypt = await startTurkey("turkey-scrypt", { ...vars, PASSWORD_HASH: "scrypt" });
  const ceiling = await startWrangler(dir, "ceiling", builds.ceiling);
  await Promise.all([
    waitUntilServing(turkey.service, `${turkey.url}/health`),
    waitUntilServing(turkeyScrypt.service, `${turkeyScrypt.url}/health`),
    waitUntilServing(ceiling.service, `${ceiling.url}/`),
  ]);
  return {
    turkeyUrl: turkey.url,
    turkeyScryptUrl: turkeyScrypt.url,
    ceilingUrl: ceiling.url,
    turkeyLogFile: turkey.service.logFile,
    turkey,
    turkeyScrypt,
  };
}

/** One Turkey from a prebuilt bundle, on the given database, with the given variables. */
export async function startTurkeyWorker(
  dir: string,
  name: string,
  build: BuiltWorker,
  database: Database,
  variables: Record<string, string>,
): Promise<Wrangler> {
  const envFile = path.join(dir, `${name}.env`);
  await writeFile(envFile, toEnvFile(variables), { mode: 0o600 });
  // The configuration copy sits elsewhere, so its relative assets directory is named here.
  return startWrangler(dir, name, build, ["--env-file", envFile, "--assets", ASSETS_DIR], {
    CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: database.hyperdriveUrl,
  });
}

/**
 * One `wrangler dev` serving a prebuilt bundle and its configuration copied aside (it would
 * otherwise rebuild and restart the worker mid-run whenever a source file or wrangler.toml
 * changes), on ports of its own, quiet, and without local per-request tracing.
 */
export async function startWrangler(
  dir: string,
  name: string,
  worker: BuiltWorker,
  extraArgs: string[] = [],
  extraEnv: Record<string, string> = {},
) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    "wrangler",
    "dev",
    worker.entry,
    ["--config", worker.configPath, "--no-bundle"],
    ...extraArgs,
    ["--ip", "127.0.0.1"],
    ["--port", String(port)],
    ["--inspector-port", String(inspectorPort)],
    ["--persist-to", path.join(dir, `state-${name}`)],
    ["--log-level", "warn"],
    "--show-interactive-dev-session=false",
  ].flat();
  const service = startService(name, "npx", args, {
    logFile: path.join(dir, `${name}.log`),
    env: {
      ...process.env,
      // Per-request tracing of local dev costs ~30 % of a small worker's throughput.
      X_LOCAL_OBSERVABILITY: "false",
      X_LOCAL_EXPLORER: "false",
      WRANGLER_SEND_METRICS: "false",
      // Keeps these workers out of the registry that other local `wrangler dev` runs share.
      WRANGLER_REGISTRY_PATH: path.join(dir, "registry"),
      ...extraEnv,
    },
  });
  return { service, url: `http://127.0.0.1:${port}`, inspectorPort };
}

/** The values here are generated, never quoted or expanded, so plain KEY=value lines do. */
function toEnvFile(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([key, value]) => `${key}=${value}\n`)
    .join("");
}

/** A port of the bench's range that nothing listens on and this run has not handed out. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_RANGE.first + Math.floor(Math.random() * (PORT_RANGE.last - PORT_RANGE.first + 1));
    if (taken.has(port) || !(await canListen(port))) continue;
    taken.add(port);
    return port;
  }
  throw new Error(`no free port in ${PORT_RANGE.first}–${PORT_RANGE.last}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
