/**
 * Runs once in Node before the workerd test pool: a fresh, migrated database (embedded
 * PostgreSQL by default, or a new database on the server named by TEST_DATABASE_URL) and
 * the WebSocket relay for the Neon driver path. Both are torn down afterwards.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../src/cli/embedded-postgres";
import { applyMigrations } from "../src/db/migrate";
import { startWsRelay } from "./support/ws-relay";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    neonWsProxy: string;
  }
}

export default async function setup(project: TestProject) {
  const database = process.env.TEST_DATABASE_URL
    ? await createScratchDatabase(process.env.TEST_DATABASE_URL)
    : await startScratchEmbedded();
  await applyMigrations(database.url);

  const { hostname, port } = new URL(database.url);
  const relay = await startWsRelay(`${hostname}:${port}`);

  project.provide("databaseUrl", database.url);
  project.provide("neonWsProxy", `127.0.0.1:${relay.port}/v1`);
  // Wrangler reads this while the pool loads wrangler.toml; it wins over localConnectionString.
  process.env.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE = database.url;

  return async () => {
    await relay.close();
    await database.drop();
  };
}

interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

async function startScratchEmbedded(): Promise<ScratchDatabase> {
  const dir = await mkdtemp(path.join(tmpdir(), "turkey-test-pg-"));
  // Run as root, Postgres runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  const port = 55_000 + Math.floor(Math.random() * 5000);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dir, "data"),
    port,
    database: "turkey_test",
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

/** A new database on the given server, so a run never touches existing data. */
async function createScratchDatabase(serverUrl: string): Promise<ScratchDatabase> {
  const name = `turkey_test_${Date.now()}_${process.pid}`;
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

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
