/**
 * A comparable picture of the schema: tables and columns (type, default, nullability),
 * indexes and constraints, as the catalog describes them.
 */
import { query } from "./gravy";

export interface Catalog {
  columns: Record<string, unknown>[];
  indexes: Record<string, unknown>[];
  constraints: Record<string, unknown>[];
}

export async function readCatalog(url: string): Promise<Catalog> {
  const columns = await query(
    url,
    `select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
       pg_get_expr(d.adbin, d.adrelid) as default, a.attnotnull as not_null,
       -- The column's place among live ones: a column dropped and added again gets a new attnum.
       (row_number() over (partition by c.relname order by a.attnum))::int as position
     from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
     where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
     order by c.relname, a.attnum`,
  );
  const indexes = await query(
    url,
    "select tablename as table, indexname as index, indexdef as definition from pg_indexes where schemaname = 'public' order by indexname",
  );
  const constraints = await query(
    url,
    `select t.relname as table, c.conname as name, c.contype as type, pg_get_constraintdef(c.oid) as definition
     from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
     where n.nspname = 'public' order by t.relname, c.conname`,
  );
  return { columns, indexes, constraints };
}
