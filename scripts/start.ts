/**
 * `npm start`: the whole server locally with zero setup. Starts an embedded PostgreSQL
 * (unless DATABASE_URL names another database), migrates it, makes sure the app `demo`
 * exists, then runs the Worker under `wrangler dev` on PORT.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { parseEnv } from "node:util";
import { type RunningPostgres, startEmbeddedPostgres } from "../src/cli/embedded-postgres";
import { CONFIG_KEYS, ConfigError, parseConfig } from "../src/config";
import { applyMigrations, ensureApp } from "../src/db/migrate";

const STATE_DIR = ".turkey";
const EMBEDDED_PORT = Number(process.env.TURKEY_DB_PORT ?? 54329);

async function main(): Promise<void> {
  const vars = await loadVariables();
  try {
    parseConfig(vars);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  const port = vars.PORT ?? "3000";

  let embedded: RunningPostgres | undefined;
  let databaseUrl = vars.DATABASE_URL;
  if (!databaseUrl) {
    console.log(`Starting embedded PostgreSQL (data in ${STATE_DIR}/postgres, port ${EMBEDDED_PORT}) …`);
    embedded = await startEmbeddedPostgres({
      dataDir: `${STATE_DIR}/postgres`,
      port: EMBEDDED_PORT,
      database: "turkey",
    });
    databaseUrl = embedded.url;
  }
  await applyMigrations(databaseUrl);
  await ensureApp(databaseUrl, { id: "demo", name: "Demo", url: `http://localhost:${port}` });
  console.log(`Database ready; app "demo" registered. Starting Turkey on http://localhost:${port}`);

  // The merged variables reach the Worker through one env file (wrangler then skips .dev.vars).
  const envFile = `${STATE_DIR}/worker.env`;
  await writeFile(envFile, toDotenv(vars), { mode: 0o600 });
  await chmod(envFile, 0o600);
  const wrangler = spawn(
    "npx",
    ["wrangler", "dev", "--port", port, "--env-file", envFile, ...process.argv.slice(2)],
    {
      stdio: "inherit",
      // Its own process group, so stopping reaches wrangler and workerd, not just npx.
      detached: true,
      env: {
        ...process.env,
        CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: databaseUrl,
        WRANGLER_SEND_METRICS: "false",
      },
    },
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    if (wrangler.pid) process.kill(-wrangler.pid, signal);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  const code = await new Promise<number>((resolve) => wrangler.on("exit", (c) => resolve(c ?? 0)));
  await embedded?.stop();
  process.exit(stopping ? 0 : code);
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
  vars.JWT_SECRET ??= await developmentSecret(vars.NODE_ENV);
  return vars;
}

/**
 * Writes variables in the dotenv syntax wrangler reads: each value in a quote it does not
 * contain (quoted values are taken literally), `$` escaped so it is never expanded.
 */
export function toDotenv(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([key, value]) => {
      const quote = ["'", "`", '"'].find((q) => !value.includes(q));
      if (!quote) fail(`${key} cannot contain all three quote characters`);
      return `${key}=${quote}${value.replaceAll("$", "\\$")}${quote}`;
    })
    .join("\n")
    .concat("\n");
}

/** A random secret kept in `.turkey/`, so local tokens survive restarts. Never in production. */
async function developmentSecret(nodeEnv: string | undefined): Promise<string> {
  if (nodeEnv === "production") fail("Invalid configuration: JWT_SECRET is required");
  const file = `${STATE_DIR}/dev-jwt-secret`;
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  await mkdir(STATE_DIR, { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  await writeFile(file, secret, { mode: 0o600 });
  await chmod(file, 0o600);
  return secret;
}

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
