/**
 * Throw-away databases for test runs (Node side only: global setups). Either a whole embedded
 * PostgreSQL server in a temporary folder, or a new database on an existing server, so a run
 * never touches existing data.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../../src/cli/embedded-postgres";

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** An embedded server on a random port in [firstPort, firstPort + ports). */
export async function startScratchEmbedded(
  database: string,
  { firstPort = 55_000, ports = 5000 } = {},
): Promise<ScratchDatabase> {
  const dir = await mkdtemp(path.join(tmpdir(), "turkey-test-pg-"));
  // Run as root, Postgres runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  const port = firstPort + Math.floor(Math.random() * ports);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dir, "data"),
    port,
    database,
    persistent: false,
  });
  return {
    url: server.url,
    drop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A new database on the given server. */
export async function createScratchDatabase(
  serverUrl: string,
  prefix = "turkey_test",
): Promise<ScratchDatabase> {
  const name = `${prefix}_${Date.now()}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new URL(serverUrl);
  // Hyperdrive's local mode requires a password in the URL even where the server trusts us.
  if (!admin.password) admin.password = "unused";
  await adminQuery(admin.toString(), `create database ${name}`);
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(admin.toString(), `drop database if exists ${name} with (force)`),
  };
}

export async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
