/**
 * `gravy user delete | export <appId> <email>`: a user's rights exercised through support.
 * The same functions as the API's, so a deletion here revokes, deletes and pseudonymises
 * exactly as the user's own would. The revoked tokens reach KV with the cleanup cron's next
 * run (within a minute); until then only Postgres-backed checks refuse them, and /me at once,
 * as the user no longer exists.
 */
import { writeFileSync } from "node:fs";
import { deleteUser } from "../../auth/delete-user";
import { exportUser } from "../../auth/export-user";
import { findUserByEmail, normaliseEmail } from "../../auth/users";
import type { Database } from "../../db";
import type { Command, CommandContext } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { CliError } from "../errors";
import { writeJson, writeLines } from "../output";

const CLIENT = { ip: null, userAgent: "gravy user delete" };

const remove: Command = {
  name: "user delete",
  summary: "Delete a user of an app, revoking their tokens; the audit keeps only their id.",
  arguments: "<appId> <email>",
  positionals: { min: 2, max: 2 },
  details:
    "Asks for confirmation on a terminal, and needs --yes elsewhere. Live access tokens are refused by KV-backed checks after the cleanup cron's next run (each minute).",
  options: {
    yes: { type: "boolean", short: "y", description: "confirm without being asked (scripts)" },
  },
  async run(ctx) {
    const [appId, email] = [ctx.positional(0), normaliseEmail(ctx.positional(1))];
    const deleted = await withDatabase(databaseTarget(ctx.io.env), async (handle) => {
      const userId = await findUserId(handle.db, appId, email);
      await confirmDeletion(ctx, appId, email);
      return deleteUser(handle.db, appId, userId, "operator", { client: CLIENT });
    });
    if (!deleted) throw new CliError(`No user ${email} in app "${appId}"`);
    if (ctx.json)
      return writeJson(ctx.io, {
        deleted: { appId, userId: deleted.userId, revokedTokens: deleted.revoked.length },
      });
    writeLines(
      ctx.io,
      `Deleted user ${deleted.userId} of app "${appId}"; ${deleted.revoked.length} live access token(s) revoked.`,
    );
  },
};

const exportCommand: Command = {
  name: "user export",
  summary: "Write everything Turkey holds about a user of an app, as JSON.",
  arguments: "<appId> <email>",
  positionals: { min: 2, max: 2 },
  options: {
    out: { type: "string", valueName: "file", description: "write to this file instead of the output" },
  },
  async run(ctx) {
    const [appId, email] = [ctx.positional(0), normaliseEmail(ctx.positional(1))];
    const document = await withDatabase(databaseTarget(ctx.io.env), async (handle) =>
      exportUser(handle.db, appId, await findUserId(handle.db, appId, email), new Date()),
    );
    if (!document) throw new CliError(`No user ${email} in app "${appId}"`);
    const out = ctx.string("out");
    if (!out) return writeJson(ctx.io, document);
    // Mode 600: the export holds personal data.
    writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o600 });
    if (ctx.json) return writeJson(ctx.io, { exported: { appId, userId: document.user.id, file: out } });
    writeLines(ctx.io, `Wrote the data of user ${document.user.id} of app "${appId}" to ${out}.`);
  },
};

async function findUserId(db: Database, appId: string, email: string): Promise<string> {
  const user = await findUserByEmail(db, appId, email);
  if (!user) throw new CliError(`No user ${email} in app "${appId}"`);
  return user.id;
}

/** --yes, or a "y" on the terminal; anything else deletes nothing. */
async function confirmDeletion(ctx: CommandContext, appId: string, email: string): Promise<void> {
  if (ctx.flag("yes")) return;
  const { confirm } = ctx.io;
  if (!confirm) throw new CliError(`Not deleted: run again with --yes to delete ${email} of app "${appId}".`);
  if (!(await confirm(`Delete ${email} of app "${appId}" and everything keyed to it?`))) {
    throw new CliError("Not deleted.");
  }
}

export const userCommands: Command[] = [remove, exportCommand];
