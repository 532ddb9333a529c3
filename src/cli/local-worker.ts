/**
 * What `npm start` needs to run the Worker under `wrangler dev`: the project's own files (found
 * from this module, so any working folder can hold the state) and the connection string for the
 * local Hyperdrive binding, checked before anything connects.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "./errors";

export const PROJECT_DIR = fileURLToPath(new URL("../..", import.meta.url));
export const WRANGLER_CONFIG = path.join(PROJECT_DIR, "wrangler.toml");

/** The wrangler script of the project's own install, run with the Node that runs us. */
export function wranglerScript(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve("wrangler/package.json");
  const { bin } = require(manifest) as { bin: Record<string, string> };
  const script = bin.wrangler;
  if (!script) throw new CliError("The installed wrangler package has no wrangler command; run `npm ci`");
  return path.join(path.dirname(manifest), script);
}

// Any value does where the server does not check passwords (trust authentication), and local
// Hyperdrive refuses a URL without one.
const UNCHECKED_PASSWORD = "unused";

/**
 * DATABASE_URL as the Worker's local Hyperdrive binding takes it. Refuses, naming the part, a URL
 * that lacks what the binding needs; fills in a missing password (PGPASSWORD, as the Node tools
 * use it, or a placeholder for servers that do not ask for one).
 */
export function workerDatabaseUrl(databaseUrl: string, pgPassword: string | undefined): string {
  const url = new URL(databaseUrl);
  const example = "e.g. postgres://postgres@127.0.0.1:5432/turkey";
  if (!url.hostname) {
    throw new CliError(
      `DATABASE_URL names no host: the local Worker reaches Postgres over TCP, not a socket (${example})`,
    );
  }
  if (url.pathname.replace(/^\//, "") === "")
    throw new CliError(`DATABASE_URL names no database (${example})`);
  if (!url.username) throw new CliError(`DATABASE_URL names no user (${example})`);
  if (!url.password) url.password = encodeURIComponent(pgPassword || UNCHECKED_PASSWORD);
  return url.toString();
}
