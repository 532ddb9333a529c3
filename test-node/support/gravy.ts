/** Driving the CLI in-process, and the scratch databases it runs against. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, inject } from "vitest";
import { main } from "../../src/cli/main";
import { readMigrationFiles } from "../../src/cli/migrations";
import { applyMigrations, MIGRATIONS_DIR } from "../../src/db/migrate";
import { createScratchDatabase, type ScratchDatabase } from "../../test/support/scratch-database";

export interface GravyResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Env = Record<string, string | undefined>;

/** How many migrations the project has: a migrated database reports them all applied. */
export const MIGRATIONS = readMigrationFiles(MIGRATIONS_DIR).length;

/**
 * Runs `gravy <argv>` with exactly these variables, in an empty working folder by default.
 * Without `confirm` there is no terminal to ask on, as in a script.
 */
export async function gravy(
  argv: string[],
  env: Env,
  cwd?: string,
  confirm?: (question: string) => Promise<boolean>,
): Promise<GravyResult> {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: (text: string) => {
      stdout += text;
    },
    stderr: (text: string) => {
      stderr += text;
    },
    env: { PATH: process.env.PATH, ...env },
    cwd: cwd ?? (await emptyFolder()),
    ...(confirm ? { confirm } : {}),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Runs a command that must succeed with --json and returns its parsed output. */
export async function gravyJson<T>(argv: string[], env: Env, cwd?: string): Promise<T> {
  const result = await gravy([...argv, "--json"], env, cwd);
  if (result.code !== 0) throw new Error(`gravy ${argv.join(" ")} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export function emptyFolder(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), "gravy-test-"));
}

/** A new database on the test server, dropped after the file's tests (call it at the top of a file). */
export async function scratchDatabase(
  options: { migrated?: boolean; serverUrl?: string } = {},
): Promise<string> {
  const database: ScratchDatabase = await createScratchDatabase(
    options.serverUrl ?? inject("serverUrl"),
    "gravy_test",
  );
  afterAll(() => database.drop());
  if (options.migrated) await applyMigrations(database.url);
  return database.url;
}

/** One query on its own connection. */
export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** A port nothing listens on: bound once by us, then released. */
export async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}
