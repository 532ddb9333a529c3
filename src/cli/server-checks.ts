/**
 * What `gravy db health` asks the server beyond the monitoring queries: whether this very
 * connection is encrypted, how many connections the server allows (the budget Hyperdrive's pool
 * and the CLI's share), and the operations guide's "Identify missing indexes" query.
 */
import type pg from "pg";

export interface TlsStatus {
  /** From pg_stat_ssl for this check's own backend. */
  encrypted: boolean;
  version: string | null;
  cipher: string | null;
}

export interface ConnectionLimits {
  maxConnections: number;
  /** superuser_reserved_connections, plus reserved_connections on PostgreSQL 16+. */
  reserved: number;
  /** What is left for ordinary roles: the Worker (through Hyperdrive) and this CLI. */
  forClients: number;
  /** The most Hyperdrive's origin connection limit should be, leaving DB_POOL_MAX for the CLI. */
  hyperdriveAtMost: number;
}

/** Hyperdrive never pools fewer connections than this, whatever its configured limit. */
export const HYPERDRIVE_MIN_CONNECTIONS = 5;

export interface IndexCandidate {
  table: string;
  column: string;
  /** pg_stats.n_distinct: estimated distinct values. */
  distinct: number;
  /** pg_stats.correlation: how closely the column follows the table's physical order. */
  correlation: number;
  /** Whether an index already starts with this column. */
  indexed: boolean;
}

export async function readTls(pool: pg.Pool): Promise<TlsStatus> {
  const result = await pool.query<{ ssl: boolean; version: string | null; cipher: string | null }>(
    "select ssl, version, cipher from pg_stat_ssl where pid = pg_backend_pid()",
  );
  const row = result.rows[0];
  return { encrypted: row?.ssl === true, version: row?.version ?? null, cipher: row?.cipher ?? null };
}

export async function readConnectionLimits(pool: pg.Pool, cliPoolMax: number): Promise<ConnectionLimits> {
  const result = await pool.query<{ max: string; superuser: string; reserved: string | null }>(
    `select current_setting('max_connections') as max,
       current_setting('superuser_reserved_connections') as superuser,
       current_setting('reserved_connections', true) as reserved`,
  );
  const row = result.rows[0];
  const maxConnections = Number(row?.max ?? 0);
  const reserved = Number(row?.superuser ?? 0) + Number(row?.reserved ?? 0);
  const forClients = maxConnections - reserved;
  return { maxConnections, reserved, forClients, hyperdriveAtMost: forClients - cliPoolMax };
}

/**
 * The guide's query as written (many distinct values, little correlation with the physical
 * order: lookups on such a column read scattered pages), with each column marked when an index
 * already starts with it. pg_stats is filled by ANALYZE, so a new database lists nothing yet.
 */
export async function readIndexCandidates(pool: pg.Pool): Promise<IndexCandidate[]> {
  const result = await pool.query<{
    table: string;
    column: string;
    distinct: number;
    correlation: number;
    indexed: boolean;
  }>(
    `select s.tablename as table, s.attname as column, s.n_distinct::float8 as distinct,
       s.correlation::float8 as correlation,
       exists (
         select 1 from pg_index i
           join pg_class c on c.oid = i.indrelid
           join pg_namespace n on n.oid = c.relnamespace
           join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
         where n.nspname = s.schemaname and c.relname = s.tablename and a.attname = s.attname
       ) as indexed
     from pg_stats s
     where s.schemaname = 'public' and s.n_distinct > 100 and s.correlation < 0.1
     order by s.tablename, s.attname`,
  );
  return result.rows;
}
