/**
 * Which database the CLI talks to, and a pooled handle to it. DATABASE_URL wins; without it,
 * outside production, the CLI uses the embedded database that `npm start` runs — it never
 * starts one itself, since a second server on the same data folder would fight the first.
 */
import type pg from "pg";
import { parseDatabaseConfig } from "../config";
import { openNodeDatabase } from "../db";
import { CliError, describeFailure, type TargetDescription } from "./errors";
import type { Io } from "./output";

type NodeHandle = ReturnType<typeof openNodeDatabase>;

export interface DatabaseTarget {
  url: string;
  poolMin: number;
  poolMax: number;
  description: TargetDescription;
  /** NODE_ENV=production: destructive commands ask for more than a confirmation. */
  production: boolean;
}

/** Resolves the target from the variables; refuses unsafe production settings (ConfigError). */
export function databaseTarget(env: Io["env"]): DatabaseTarget {
  const config = parseDatabaseConfig(env);
  const settings = {
    poolMin: config.dbPoolMin,
    poolMax: config.dbPoolMax,
    production: config.nodeEnv === "production",
  };
  if (config.databaseUrl) {
    return { url: config.databaseUrl, ...settings, description: { label: describeUrl(config.databaseUrl) } };
  }
  if (config.nodeEnv === "production") {
    throw new CliError("DATABASE_URL is required when NODE_ENV=production");
  }
  const port = env.TURKEY_DB_PORT ?? "54329";
  const url = `postgres://postgres:turkey@127.0.0.1:${port}/turkey`;
  const hint = "that is the embedded database of `npm start`; start it, or set DATABASE_URL";
  return { url, ...settings, description: { label: describeUrl(url), hint } };
}

/** `turkey on db.internal:5432`: enough to recognise the target, never the credentials. */
export function describeUrl(url: string): string {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(default database)";
  return `${database} on ${parsed.hostname}:${parsed.port || "5432"}`;
}

/** The database name a connection string names. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
  if (!name) throw new CliError("DATABASE_URL names no database");
  return name;
}

/**
 * Runs `work` with a pool sized by DB_POOL_MIN / DB_POOL_MAX and closes it afterwards. A first
 * query checks the connection, so an unreachable server is reported before any work starts.
 */
export async function withDatabase<T>(
  target: DatabaseTarget,
  work: (handle: NodeHandle) => Promise<T>,
): Promise<T> {
  const handle = openNodeDatabase(target.url, { min: target.poolMin, max: target.poolMax });
  try {
    await checkConnection(handle, target);
    return await work(handle);
  } finally {
    await handle.close();
  }
}

/** Any failure of this first query is a failure to connect: it is explained with the target. */
async function checkConnection(handle: NodeHandle, target: DatabaseTarget): Promise<void> {
  try {
    await handle.pool.query("select 1");
  } catch (error) {
    throw new CliError(describeFailure(error, target.description));
  }
}

/** Runs `work` on one connection inside BEGIN … COMMIT, rolling back on any error. */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const result = await work(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
