/** `gravy user factors <appId> <email>` and `gravy user factors remove <appId> <email>`: support cases. */
import { sql } from "drizzle-orm";
import { normaliseEmail } from "../../auth/users";
import type { Database } from "../../db";
import { deleteTotp, listFactors } from "../../mfa/factors";
import { deletePasskeys } from "../../passkeys/credentials";
import type { Command, CommandContext } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { CliError } from "../errors";
import { formatFields, formatTable, writeJson, writeLines } from "../output";

const USAGE = "<appId> <email>";
const CLIENT = { ip: null, userAgent: "gravy user factors remove" };

const list: Command = {
  name: "user factors",
  summary: "List a user's second factors and passkeys, and how many recovery codes are left.",
  arguments: USAGE,
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const { appId, email } = target(ctx);
    const view = await withDatabase(databaseTarget(ctx.io.env), async (handle) =>
      listFactors(handle.db, appId, await findUserId(handle.db, appId, email)),
    );
    if (ctx.json) return writeJson(ctx.io, { appId, email, ...view });
    const rows = [
      ...view.factors.map((factor) => ({
        kind: factor.kind,
        name: "",
        state: factor.confirmedAt ? "active" : "pending",
        createdAt: factor.createdAt,
        lastUsedAt: factor.confirmedAt ?? "",
      })),
      ...view.passkeys.map((passkey) => ({
        kind: `passkey (${passkey.deviceType === "multiDevice" ? "synced" : "device-bound"})`,
        name: passkey.name,
        state: "active",
        createdAt: passkey.createdAt,
        lastUsedAt: passkey.lastUsedAt ?? "never",
      })),
    ];
    writeLines(
      ctx.io,
      rows.length === 0
        ? `${email} in "${appId}" has no second factor.`
        : formatTable(rows, [
            { key: "kind", title: "Factor" },
            { key: "name", title: "Name" },
            { key: "state", title: "State" },
            { key: "createdAt", title: "Created" },
            { key: "lastUsedAt", title: "Confirmed / last used" },
          ]),
      formatFields([["Recovery codes left", view.recoveryCodesLeft]]),
    );
  },
};

const remove: Command = {
  name: "user factors remove",
  summary:
    "Remove a user's second factors, recovery codes and passkeys (the user signs in with the password alone).",
  arguments: USAGE,
  details:
    "For a user who lost both the authenticator and the recovery codes, after checking who they are. " +
    "Audited as mfa_disabled and passkey_deleted. Asks for confirmation on a terminal, and needs --yes elsewhere.",
  positionals: { min: 2, max: 2 },
  options: { yes: { type: "boolean", short: "y", description: "confirm without being asked (scripts)" } },
  async run(ctx) {
    const { appId, email } = target(ctx);
    await confirmRemoval(ctx, appId, email);
    const removed = await withDatabase(databaseTarget(ctx.io.env), async (handle) => {
      const userId = await findUserId(handle.db, appId, email);
      const who = { client: CLIENT, now: new Date() };
      const totp = await deleteTotp(handle.db, { appId, userId }, who, { by: "gravy" });
      const passkeys = await deletePasskeys(handle.db, { appId, userId }, who, { by: "gravy" });
      return { totp, passkeys };
    });
    if (ctx.json) {
      const kinds = [...(removed.totp ? ["totp"] : []), ...(removed.passkeys > 0 ? ["passkeys"] : [])];
      return writeJson(ctx.io, { appId, email, removed: kinds, passkeysRemoved: removed.passkeys });
    }
    writeLines(ctx.io, removalSummary(email, appId, removed));
  },
};

export const factorCommands: Command[] = [list, remove];

function removalSummary(email: string, appId: string, removed: { totp: boolean; passkeys: number }): string {
  const parts = [
    ...(removed.totp ? ["TOTP and recovery codes"] : []),
    ...(removed.passkeys > 0 ? [`${removed.passkeys} passkey${removed.passkeys === 1 ? "" : "s"}`] : []),
  ];
  if (parts.length === 0) return `${email} had no second factor.`;
  return `Removed ${parts.join(" and ")} of ${email} in "${appId}".`;
}

function target(ctx: CommandContext): { appId: string; email: string } {
  return { appId: ctx.positional(0), email: normaliseEmail(ctx.positional(1)) };
}

async function findUserId(db: Database, appId: string, email: string): Promise<string> {
  const found = await db.execute(sql`select id from users where app_id = ${appId} and email = ${email}`);
  const id = found.rows[0]?.id;
  if (typeof id !== "string") throw new CliError(`No user ${email} in app "${appId}"`);
  return id;
}

async function confirmRemoval(ctx: CommandContext, appId: string, email: string): Promise<void> {
  if (ctx.flag("yes")) return;
  const { confirm } = ctx.io;
  if (!confirm) throw new CliError("Nothing removed. Run again with --yes to confirm.");
  if (!(await confirm(`Remove every second factor of ${email} in "${appId}"?`))) {
    throw new CliError("Nothing removed.");
  }
}
