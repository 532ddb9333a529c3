/**
 * What the admin operations take: the app the key belongs to, the key (its name goes into the
 * audit of every call), and the request's client and clock.
 */
import { type SQL, sql } from "drizzle-orm";
import type { App } from "../apps/registry";
import { AUDIT_COLUMNS, type AuditEvent, auditValues, type Client } from "../audit";
import type { Database } from "../db";
import { ApiError } from "../errors";
import type { AppKey } from "./app-keys";

export interface AdminContext {
  db: Database;
  kv: KVNamespace;
  app: App;
  key: AppKey;
  client: Client;
  now: Date;
}

/** The audit row of an admin call, naming the key that made it. */
export function adminAuditValues(
  ctx: AdminContext,
  event: AuditEvent,
  userId: SQL | string | null,
  details: Record<string, unknown> = {},
): SQL {
  return auditValues(event, ctx.app.id, userId, ctx.client, ctx.now, {
    appKey: ctx.key.name,
    appKeyId: ctx.key.id,
    ...details,
  });
}

/** Audits a call that changes nothing (a read). */
export async function auditAdminRead(
  ctx: AdminContext,
  event: AuditEvent,
  userId: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  await ctx.db.execute(
    sql`insert into audit (${AUDIT_COLUMNS}) values (${adminAuditValues(ctx, event, userId, details)})`,
  );
}

/**
 * Cursors are opaque to clients: the (created_at, id) of the last row of a page, as Postgres
 * wrote it (microseconds), so the next page starts exactly after it and rows inserted
 * meanwhile never shift a page.
 */
export interface Cursor {
  at: string;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return btoa(JSON.stringify([cursor.at, cursor.id]))
    .replace(/=+$/, "")
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}

export function decodeCursor(text: string): Cursor {
  try {
    const json = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const [at, id] = JSON.parse(json) as unknown[];
    if (typeof at === "string" && typeof id === "string" && UUID.test(id) && !Number.isNaN(Date.parse(at)))
      return { at, id };
  } catch {
    // Falls through to the refusal.
  }
  throw new ApiError("validation_failed", "cursor: not a cursor from a previous page", "cursor");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
