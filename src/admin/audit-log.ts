/**
 * Reading the app's audit: pages in (created_at, id) order, filtered by time, event and user.
 * The export walks the same pages one after another, so it never holds more than one page.
 */
import { type SQL, sql } from "drizzle-orm";
import { type AdminContext, auditAdminRead, decodeCursor, encodeCursor } from "./context";

export interface AuditFilter {
  since?: string | undefined;
  until?: string | undefined;
  event?: string | undefined;
  userId?: string | undefined;
  cursor?: string | undefined;
}

export interface AuditEntry {
  id: string;
  event: string;
  userId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown> | null;
  createdAt: string;
}

export interface AuditPage {
  events: AuditEntry[];
  nextCursor: string | null;
}

/** Rows one export query reads. */
export const EXPORT_PAGE_SIZE = 500;

export async function listAudit(ctx: AdminContext, filter: AuditFilter, limit: number): Promise<AuditPage> {
  await auditAdminRead(ctx, "admin_audit_read", null, describe(filter));
  return readPage(ctx, filter, limit);
}

/** Every matching entry, a page at a time, for the NDJSON export. */
export async function* exportAudit(ctx: AdminContext, filter: AuditFilter): AsyncGenerator<AuditEntry[]> {
  await auditAdminRead(ctx, "admin_audit_read", null, { ...describe(filter), export: true });
  let cursor = filter.cursor;
  do {
    const page = await readPage(ctx, { ...filter, cursor }, EXPORT_PAGE_SIZE);
    if (page.events.length > 0) yield page.events;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

async function readPage(ctx: AdminContext, filter: AuditFilter, limit: number): Promise<AuditPage> {
  const result = await ctx.db.execute(sql`
    select id, event, user_id, ip, user_agent, details, created_at, created_at::text as cursor_at
    from audit where app_id = ${ctx.app.id} ${conditions(filter)}
    order by created_at, id
    limit ${limit + 1}`);
  const rows = result.rows.slice(0, limit);
  const last = rows.at(-1);
  return {
    events: rows.map(toEntry),
    nextCursor:
      result.rows.length > limit && last
        ? encodeCursor({ at: String(last.cursor_at), id: String(last.id) })
        : null,
  };
}

function conditions(filter: AuditFilter): SQL {
  const parts: SQL[] = [];
  if (filter.since) parts.push(sql`and created_at >= ${filter.since}::timestamptz`);
  if (filter.until) parts.push(sql`and created_at < ${filter.until}::timestamptz`);
  if (filter.event) parts.push(sql`and event = ${filter.event}`);
  if (filter.userId) parts.push(sql`and user_id = ${filter.userId}::uuid`);
  if (filter.cursor) {
    const after = decodeCursor(filter.cursor);
    parts.push(sql`and (created_at, id) > (${after.at}::timestamptz, ${after.id}::uuid)`);
  }
  return sql.join(parts, sql` `);
}

function toEntry(row: Record<string, unknown>): AuditEntry {
  return {
    id: String(row.id),
    event: String(row.event),
    userId: (row.user_id as string | null) ?? null,
    ip: (row.ip as string | null) ?? null,
    userAgent: (row.user_agent as string | null) ?? null,
    details: (row.details as Record<string, unknown> | null) ?? null,
    createdAt: new Date(row.created_at as string).toISOString(),
  };
}

function describe(filter: AuditFilter): Record<string, unknown> {
  const { since, until, event, userId } = filter;
  return Object.fromEntries(
    Object.entries({ since, until, event, userId }).filter(([, v]) => v !== undefined),
  );
}
