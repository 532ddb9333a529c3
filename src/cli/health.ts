/**
 * The figures of `gravy db health`: the operations guide's monitoring queries, gathered at
 * once over the pool (which is why the pool's own counters are worth reading afterwards).
 */
import type pg from "pg";
import { type CleanupCounts, cleanupStatus } from "../cron/cleanup";
import type { RetentionSettings } from "../cron/retention";
import type { Database } from "../db";
import { MIGRATIONS_DIR } from "../db/migrate";
import { migrationStatus } from "./migrations";
import {
  type ConnectionLimits,
  type IndexCandidate,
  readConnectionLimits,
  readIndexCandidates,
  readTls,
  type TlsStatus,
} from "./server-checks";
import { assessServerVersion, MIN_SERVER_MAJOR } from "./server-version";

export interface PoolStats {
  min: number;
  max: number;
  total: number;
  idle: number;
  waiting: number;
}

export interface RevokedFigures {
  total: number;
  expired: number;
  active: number;
  byApp: { appId: string; total: number; active: number }[];
}

export interface HealthReport {
  server: {
    version: string;
    versionNumber: number;
    database: string;
    user: string;
    /** Whether the server is at least the minimum major version (minimumMajor). */
    supported: boolean;
    minimumMajor: number;
  };
  tls: TlsStatus;
  connectionLimits: ConnectionLimits;
  pool: PoolStats;
  migrations: { applied: number; pending: number };
  tables: { table: string; bytes: number; size: string; rows: number }[];
  /** Null until the schema has been migrated. */
  revokedJti: RevokedFigures | null;
  activeConnections: number;
  slowQueries: { pid: number; seconds: number; query: string }[];
  indexes: { table: string; index: string; scans: number; tuplesRead: number; tuplesFetched: number }[];
  /** The guide's "Identify missing indexes" query, each column marked when already indexed. */
  indexCandidates: IndexCandidate[];
  lastCleanupAt: Date | null;
  /** The newest cleanup run stopped at its budget; the next cron tick continues it. */
  cleanupIncomplete: boolean;
  /** Rows past retention per rule, each counted up to 10,000; null until migrated. */
  cleanupBacklog: Partial<CleanupCounts> | null;
}

export interface HealthOptions {
  pool: { min: number; max: number };
  retention: RetentionSettings;
  /** Active queries running longer than this are listed (the guide uses 5 s). */
  slowQuerySeconds?: number;
}

type Handle = { db: Database; pool: pg.Pool };

export async function collectHealth(handle: Handle, options: HealthOptions): Promise<HealthReport> {
  const { pool } = handle;
  const migrated = await hasTable(pool, "public.revoked_jti");
  const [server, tls, connectionLimits, migrations, tables, revokedJti, slowQueries, indexes] =
    await Promise.all([
      readServer(pool),
      readTls(pool),
      readConnectionLimits(pool, options.pool.max),
      migrationStatus(pool, MIGRATIONS_DIR),
      readTableSizes(pool),
      migrated ? readRevoked(pool) : null,
      readSlowQueries(pool, options.slowQuerySeconds ?? 5),
      readIndexUsage(pool),
    ]);
  const [indexCandidates, cleanup] = await Promise.all([
    readIndexCandidates(pool),
    migrated ? cleanupStatus(handle.db, options.retention) : undefined,
  ]);
  // Counted last, once this check's own pool has opened its connections (the pool stats below).
  const activeConnections = await readActiveConnections(pool);
  return {
    server,
    tls,
    connectionLimits,
    pool: { ...options.pool, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount },
    migrations: {
      applied: migrations.filter((m) => m.state === "applied").length,
      pending: migrations.filter((m) => m.state === "pending").length,
    },
    tables,
    revokedJti,
    activeConnections,
    slowQueries,
    indexes,
    indexCandidates,
    lastCleanupAt: cleanup?.lastAt ?? null,
    cleanupIncomplete: cleanup?.lastIncomplete ?? false,
    cleanupBacklog: cleanup?.backlog ?? null,
  };
}

async function hasTable(pool: pg.Pool, name: string): Promise<boolean> {
  const result = await pool.query<{ found: string | null }>("select to_regclass($1) as found", [name]);
  return Boolean(result.rows[0]?.found);
}

async function readServer(pool: pg.Pool): Promise<HealthReport["server"]> {
  const result = await pool.query<{ version: string; num: string; database: string; user: string }>(
    `select version(), current_setting('server_version_num') as num,
       current_database() as database, current_user as user`,
  );
  const row = result.rows[0];
  if (!row) throw new Error("the server returned no version");
  const { supported } = assessServerVersion(row.version, Number(row.num));
  return {
    version: row.version,
    versionNumber: Number(row.num),
    database: row.database,
    user: row.user,
    supported,
    minimumMajor: MIN_SERVER_MAJOR,
  };
}

async function readTableSizes(pool: pg.Pool): Promise<HealthReport["tables"]> {
  const result = await pool.query<{ table: string; bytes: string; size: string; rows: string }>(
    `select c.relname as table, pg_total_relation_size(c.oid) as bytes,
       pg_size_pretty(pg_total_relation_size(c.oid)) as size, coalesce(s.n_live_tup, 0) as rows
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
       left join pg_stat_user_tables s on s.relid = c.oid
     where n.nspname = 'public' and c.relkind in ('r', 'p')
     order by pg_total_relation_size(c.oid) desc, c.relname`,
  );
  return result.rows.map((row) => ({ ...row, bytes: Number(row.bytes), rows: Number(row.rows) }));
}

/** The guide's "Monitoring Cleanup" queries: totals, then per app. */
async function readRevoked(pool: pg.Pool): Promise<RevokedFigures> {
  const [totals, byApp] = await Promise.all([
    pool.query<{ total: number; expired: number; active: number }>(
      `select count(*)::int as total,
         count(*) filter (where expires_at < now())::int as expired,
         count(*) filter (where expires_at >= now())::int as active
       from revoked_jti`,
    ),
    pool.query<{ appId: string; total: number; active: number }>(
      `select app_id as "appId", count(*)::int as total,
         count(*) filter (where expires_at >= now())::int as active
       from revoked_jti group by app_id order by app_id`,
    ),
  ]);
  return { ...(totals.rows[0] ?? { total: 0, expired: 0, active: 0 }), byApp: byApp.rows };
}

async function readActiveConnections(pool: pg.Pool): Promise<number> {
  const result = await pool.query<{ count: number }>(
    "select count(*)::int as count from pg_stat_activity where datname = current_database()",
  );
  return result.rows[0]?.count ?? 0;
}

async function readSlowQueries(pool: pg.Pool, seconds: number): Promise<HealthReport["slowQueries"]> {
  const result = await pool.query<{ pid: number; seconds: number; query: string }>(
    `select pid, extract(epoch from now() - query_start)::float8 as seconds, left(query, 200) as query
     from pg_stat_activity
     where state = 'active' and now() - query_start > make_interval(secs => $1)
       and pid <> pg_backend_pid()
     order by query_start`,
    [seconds],
  );
  return result.rows.map((row) => ({ ...row, query: row.query.replace(/\s+/g, " ").trim() }));
}

async function readIndexUsage(pool: pg.Pool): Promise<HealthReport["indexes"]> {
  const result = await pool.query<{
    table: string;
    index: string;
    scans: string;
    read: string;
    fetched: string;
  }>(
    `select relname as table, indexrelname as index, idx_scan as scans,
       idx_tup_read as read, idx_tup_fetch as fetched
     from pg_stat_user_indexes where schemaname = 'public'
     order by idx_scan asc, relname, indexrelname`,
  );
  return result.rows.map((row) => ({
    table: row.table,
    index: row.index,
    scans: Number(row.scans),
    tuplesRead: Number(row.read),
    tuplesFetched: Number(row.fetched),
  }));
}
