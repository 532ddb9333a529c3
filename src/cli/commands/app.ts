/** `gravy app add | list | remove`. */
import { createAppKey, listAppKeys, revokeAppKey } from "../app-keys";
import { addApp, checkNewApp, listApps, removeApp } from "../apps";
import type { Command } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { formatTable, writeJson, writeLines } from "../output";

const CACHE_NOTE = "Running Workers pick up the change within 30 s (their registry cache).";

const add: Command = {
  name: "app add",
  summary: "Register an app: its users sign up with X-App-Id set to <appId>.",
  arguments: "<appId>",
  positionals: { min: 1, max: 1 },
  options: {
    name: { type: "string", valueName: "name", description: "display name (required)" },
    url: {
      type: "string",
      valueName: "url",
      description: "the app's own site; email links point there (required)",
    },
  },
  async run(ctx) {
    const app = checkNewApp({ id: ctx.positional(0), name: ctx.string("name"), url: ctx.string("url") });
    await withDatabase(databaseTarget(ctx.io.env), (handle) => addApp(handle.pool, app));
    if (ctx.json) return writeJson(ctx.io, { added: app });
    writeLines(ctx.io, `Added app "${app.id}" (${app.name}, ${app.url}).`);
  },
};

const list: Command = {
  name: "app list",
  summary: "List registered apps with their user counts.",
  async run(ctx) {
    const apps = await withDatabase(databaseTarget(ctx.io.env), (handle) => listApps(handle.pool));
    if (ctx.json) return writeJson(ctx.io, { apps });
    if (apps.length === 0) return writeLines(ctx.io, "No apps registered. Add one with `gravy app add`.");
    writeLines(
      ctx.io,
      formatTable(apps, [
        { key: "id", title: "App" },
        { key: "name", title: "Name" },
        { key: "url", title: "URL" },
        { key: "users", title: "Users", align: "right" },
        { key: "createdAt", title: "Created" },
      ]),
    );
  },
};

const remove: Command = {
  name: "app remove",
  summary: "Delete an app. Refused while it has users, unless --force (which deletes them too).",
  arguments: "<appId>",
  positionals: { min: 1, max: 1 },
  options: {
    force: { type: "boolean", description: "also delete the app's users, sessions and email tokens" },
  },
  async run(ctx) {
    const id = ctx.positional(0);
    const users = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      removeApp(handle.pool, id, ctx.flag("force")),
    );
    if (ctx.json) return writeJson(ctx.io, { removed: id, usersDeleted: users });
    const detail = users > 0 ? ` and its ${users} user${users === 1 ? "" : "s"}` : "";
    writeLines(ctx.io, `Removed app "${id}"${detail}.`, CACHE_NOTE);
  },
};

const KEY_CACHE_NOTE = "Running Workers refuse it within 5 s (their key cache).";

const keyCreate: Command = {
  name: "app key create",
  summary: "Create a key for the app's backend (admin API, introspection); printed once.",
  arguments: "<appId>",
  positionals: { min: 1, max: 1 },
  options: {
    name: { type: "string", valueName: "name", description: "what the key is for; recorded in the audit" },
  },
  async run(ctx) {
    const name = ctx.string("name")?.trim() || "default";
    const created = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      createAppKey(handle.pool, ctx.positional(0), name),
    );
    if (ctx.json) return writeJson(ctx.io, { created });
    writeLines(
      ctx.io,
      `Created key "${created.name}" (${created.id}) for app "${created.appId}":`,
      "",
      `  ${created.key}`,
      "",
      "It is shown only now; store it as a secret of the app's backend.",
    );
  },
};

const keyList: Command = {
  name: "app key list",
  summary: "List the app's keys: name, created, last used, revoked.",
  arguments: "<appId>",
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const keys = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      listAppKeys(handle.pool, ctx.positional(0)),
    );
    if (ctx.json) return writeJson(ctx.io, { keys });
    if (keys.length === 0) return writeLines(ctx.io, "No keys. Create one with `gravy app key create`.");
    writeLines(
      ctx.io,
      formatTable(keys, [
        { key: "id", title: "Id" },
        { key: "name", title: "Name" },
        { key: "createdAt", title: "Created" },
        { key: "lastUsedAt", title: "Last used" },
        { key: "revokedAt", title: "Revoked" },
      ]),
    );
  },
};

const keyRevoke: Command = {
  name: "app key revoke",
  summary: "Revoke one of the app's keys.",
  arguments: "<appId> <keyId>",
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const [appId, keyId] = [ctx.positional(0), ctx.positional(1)];
    await withDatabase(databaseTarget(ctx.io.env), (handle) => revokeAppKey(handle.pool, appId, keyId));
    if (ctx.json) return writeJson(ctx.io, { revoked: keyId });
    writeLines(ctx.io, `Revoked key ${keyId} of app "${appId}".`, KEY_CACHE_NOTE);
  },
};

export const appCommands: Command[] = [add, list, remove, keyCreate, keyList, keyRevoke];
