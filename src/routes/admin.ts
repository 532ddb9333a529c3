/**
 * The /v1/admin route table: for app backends, authenticated with an app key, and confined to
 * the key's own app. Every call is audited with the key's name. The work lives in src/admin.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import { type AuditEntry, exportAudit, listAudit } from "../admin/audit-log";
import { type AdminContext, decodeCursor } from "../admin/context";
import {
  disableUser,
  enableUser,
  getUser,
  listUsers,
  logoutUser,
  removeUser,
  verifyUserEmail,
} from "../admin/users";
import type { AppEnv } from "../context";
import { endpoint } from "../http/contract";
import { clientOf, requireAppKey } from "../http/middleware";
import { adminUserEnvelope, auditEntry, auditPage, loggedOut, userDetail, userPage } from "../http/schemas";

const NDJSON = "application/x-ndjson";
const NO_STORE = { "Cache-Control": "no-store" };

const limit = (max: number, fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(max)), fallback);
const cursor = z.optional(z.string().check(z.maxLength(200)));
const instant = z.optional(z.iso.datetime({ offset: true }));

const schemas = {
  userId: z.object({ id: z.uuid("must be a user id") }),
  users: z.object({
    query: z.optional(z.string().check(z.maxLength(254))),
    limit: limit(200, 50),
    cursor,
  }),
  audit: z.object({
    since: instant,
    until: instant,
    event: z.optional(z.string().check(z.maxLength(64))),
    userId: z.optional(z.uuid()),
    limit: limit(500, 100),
    cursor,
  }),
};

function adminContext(c: Context<AppEnv>): AdminContext {
  const { deps } = c.var;
  return {
    db: deps.db,
    kv: c.env.REVOCATIONS,
    app: c.var.app,
    key: c.var.appKey,
    client: clientOf(c),
    now: deps.clock(),
  };
}

const userAction = (summary: string, description: string) =>
  endpoint({
    summary,
    description,
    params: schemas.userId,
    responses: { 200: adminUserEnvelope },
    errors: ["not_found"],
  });

export const adminRoutes = new Hono<AppEnv>()
  .use(requireAppKey)
  .get(
    "/users",
    endpoint({
      summary: "Search the app's users",
      description:
        "`query` is an email prefix or a user id. Pages run oldest first; a user created meanwhile never shifts a page.",
      query: schemas.users,
      responses: { 200: userPage },
    }),
    async (c) => c.json(await listUsers(adminContext(c), c.req.valid("query")), 200, NO_STORE),
  )
  .get(
    "/users/:id",
    endpoint({
      summary: "A user of the app, with its live sessions",
      params: schemas.userId,
      responses: { 200: userDetail },
      errors: ["not_found"],
    }),
    async (c) => c.json(await getUser(adminContext(c), c.req.valid("param").id), 200, NO_STORE),
  )
  .delete(
    "/users/:id",
    endpoint({
      summary: "Delete a user",
      description:
        "As the user's own deletion (`DELETE /v1/auth/account`): every live access token is revoked first, the user and everything keyed to it are deleted, and the audit keeps the user only under its id. The address may register again.",
      params: schemas.userId,
      responses: { 204: null },
      errors: ["not_found"],
    }),
    async (c) => {
      await removeUser(adminContext(c), c.req.valid("param").id);
      return c.body(null, 204, NO_STORE);
    },
  )
  .post(
    "/users/:id/disable",
    userAction(
      "Disable a user",
      "The user can no longer sign in, refresh or use any flow (`account_disabled`); every session and live access token ends at once.",
    ),
    async (c) => c.json({ user: await disableUser(adminContext(c), c.req.valid("param").id) }, 200, NO_STORE),
  )
  .post(
    "/users/:id/enable",
    userAction("Enable a disabled user", "Sessions ended by the disabling stay ended."),
    async (c) => c.json({ user: await enableUser(adminContext(c), c.req.valid("param").id) }, 200, NO_STORE),
  )
  .post(
    "/users/:id/verify-email",
    userAction("Mark a user's email address verified", "As if the user had followed the verification link."),
    async (c) =>
      c.json({ user: await verifyUserEmail(adminContext(c), c.req.valid("param").id) }, 200, NO_STORE),
  )
  .post(
    "/users/:id/logout",
    endpoint({
      summary: "End every session of a user",
      description: "Also revokes every live access token of the user.",
      params: schemas.userId,
      responses: { 200: loggedOut },
      errors: ["not_found"],
    }),
    async (c) => {
      const sessionsEnded = await logoutUser(adminContext(c), c.req.valid("param").id);
      return c.json({ sessionsEnded }, 200, NO_STORE);
    },
  )
  .get(
    "/audit",
    endpoint({
      summary: "The app's audit",
      description:
        "Filtered by time (`since` inclusive, `until` exclusive), event and user, oldest first. With `Accept: application/x-ndjson` every matching event is streamed, one JSON object per line, read from the database a page at a time.",
      query: schemas.audit,
      responses: { 200: auditPage },
      stream: { mediaType: NDJSON, item: auditEntry },
    }),
    async (c) => {
      const { limit, ...filter } = c.req.valid("query");
      const ctx = adminContext(c);
      if (!wantsNdjson(c.req.header("accept")))
        return c.json(await listAudit(ctx, filter, limit), 200, NO_STORE);
      // Refused before the answer starts; a stream can no longer change its status.
      if (filter.cursor) decodeCursor(filter.cursor);
      return streamNdjson(c, exportAudit(ctx, filter));
    },
  );

function wantsNdjson(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((type) => type.trim().toLowerCase().startsWith(NDJSON));
}

/**
 * Streams pages as NDJSON. The pages are read as deferred work, so the request's database
 * connection stays open until the last one; writing waits for the reader (backpressure), so
 * at most a page or so is held in memory.
 */
function streamNdjson(c: Context<AppEnv>, pages: AsyncGenerator<AuditEntry[]>): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(undefined, undefined, {
    highWaterMark: 1,
  });
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  c.var.deps.defer(async () => {
    try {
      for await (const page of pages) {
        await writer.write(encoder.encode(page.map((entry) => `${JSON.stringify(entry)}\n`).join("")));
      }
      await writer.close();
    } catch (error) {
      await writer.abort(error).catch(() => {});
      throw error;
    }
  });
  return c.body(readable, 200, { ...NO_STORE, "Content-Type": NDJSON });
}
