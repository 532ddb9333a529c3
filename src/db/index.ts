/**
 * Database handles. In the Worker a handle lives for one request (never in global scope):
 * a Hyperdrive binding goes through `pg` (Hyperdrive speaks TCP; the Neon driver cannot use
 * it), a bare DATABASE_URL through the Neon serverless driver over WebSocket. Node tools
 * (CLI, start script) use a `pg` Pool sized by DB_POOL_MIN / DB_POOL_MAX.
 */
import { Pool as NeonPool, neonConfig } from "@neondatabase/serverless";
import type { Logger } from "drizzle-orm";
import { drizzle as drizzleNeon } from "drizzle-orm/neon-serverless";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import pg from "pg";
import * as schema from "./schema";

/**
 * Both drivers speak the pg wire protocol and return pg-shaped results (`rows`, `rowCount`),
 * so the rest of the code sees one type.
 */
export type Database = NodePgDatabase<typeof schema>;
export type Driver = "hyperdrive" | "neon" | "pg";
/** Runs SQL: the database itself, or a transaction on it. */
export type Executor = Pick<Database, "execute">;

export interface DatabaseHandle {
  db: Database;
  driver: Driver;
  /** Ends every connection; safe to call more than once. */
  close(): Promise<void>;
}

/** What a Worker needs to reach Postgres. */
export interface DatabaseSource {
  HYPERDRIVE?: Hyperdrive | undefined;
  DATABASE_URL?: string | undefined;
  /** Local WebSocket-to-TCP relay for the Neon driver (development and tests only). */
  NEON_WS_PROXY?: string | undefined;
}

export interface OpenOptions {
  /** Called once per SQL statement sent: lets tests and benchmarks count round trips. */
  onQuery?: (sql: string, params: unknown[]) => void;
}

const CONNECT_TIMEOUT_MS = 5000;

export class DatabaseNotConfiguredError extends Error {
  override readonly name = "DatabaseNotConfiguredError";
  constructor() {
    super("No database: bind HYPERDRIVE or set DATABASE_URL");
  }
}

/** Opens a per-request handle. Nothing connects until the first query. */
export function openWorkerDatabase(source: DatabaseSource, options: OpenOptions = {}): DatabaseHandle {
  const logger = queryLogger(options);
  if (source.HYPERDRIVE) {
    // One connection per request: Hyperdrive pools for us, and a request's queries are sequential.
    const pool = new pg.Pool({
      connectionString: source.HYPERDRIVE.connectionString,
      max: 1,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    return wrap(drizzlePg(pool, { schema, logger }), "hyperdrive", pool);
  }
  if (source.DATABASE_URL) {
    if (source.NEON_WS_PROXY) useLocalWebSocketRelay(source.NEON_WS_PROXY);
    const pool = new NeonPool({
      connectionString: source.DATABASE_URL,
      max: 1,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    const db = drizzleNeon(pool, { schema, logger }) as unknown as Database;
    return wrap(db, "neon", pool);
  }
  throw new DatabaseNotConfiguredError();
}

/** A pooled handle for Node processes (CLI, start script). */
export function openNodeDatabase(
  connectionString: string,
  pool: { min: number; max: number },
  options: OpenOptions = {},
): DatabaseHandle & { pool: pg.Pool } {
  const pgPool = new pg.Pool({
    connectionString,
    min: pool.min,
    max: pool.max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  const handle = wrap(drizzlePg(pgPool, { schema, logger: queryLogger(options) }), "pg", pgPool);
  return { ...handle, pool: pgPool };
}

interface EndablePool {
  on(event: "error", listener: (error: Error) => void): unknown;
  end(): Promise<void>;
}

function wrap(db: Database, driver: Driver, pool: EndablePool): DatabaseHandle {
  // An idle connection that dies (or is cancelled by end()) must not become an unhandled error.
  pool.on("error", () => {});
  let closing: Promise<void> | undefined;
  return {
    db,
    driver,
    close: () => {
      closing ??= pool.end().catch(() => {});
      return closing;
    },
  };
}

function queryLogger(options: OpenOptions): Logger | false {
  const onQuery = options.onQuery;
  return onQuery ? { logQuery: (query, params) => onQuery(query, params) } : false;
}

function useLocalWebSocketRelay(relay: string): void {
  // The relay speaks plain ws:// to a local Postgres; Neon's hosted proxy would use TLS.
  neonConfig.wsProxy = relay;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}
