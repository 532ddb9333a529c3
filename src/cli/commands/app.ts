/** `gravy app add | list | set | remove | key …`. */
import { createAppKey, listAppKeys, revokeAppKey } from "../app-keys";
import { addApp, checkNewApp, listApps, removeApp, setAppSettings } from "../apps";
import type { Command, CommandContext } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { CliError } from "../errors";
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

const ON_OFF = { type: "string", valueName: "on|off" } as const;

const set: Command = {
  name: "app set",
  summary: "Turn an app's features on or off.",
  arguments: "<appId>",
  positionals: { min: 1, max: 1 },
  options: {
    "email-login": { ...ON_OFF, description: "sign-in with a code or link mailed to the user (default off)" },
    "email-signup": {
      ...ON_OFF,
      description: "with email login, an unknown address gets an account (default off)",
    },
    "hosted-pages": { ...ON_OFF, description: "mailed links open Turkey's own pages (default off)" },
  },
  async run(ctx) {
    const id = ctx.positional(0);
    const settings = {
      emailLogin: onOff(ctx, "email-login"),
      emailSignup: onOff(ctx, "email-signup"),
      hostedPages: onOff(ctx, "hosted-pages"),
    };
    const now = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      setAppSettings(handle.pool, id, settings),
    );
    if (ctx.json) return writeJson(ctx.io, { app: id, ...now });
    const state = (on: boolean) => (on ? "on" : "off");
    writeLines(
      ctx.io,
      `App "${id}": email login ${state(now.emailLogin)}, email sign-up ${state(now.emailSignup)}, hosted pages ${state(now.hostedPages)}.`,
      CACHE_NOTE,
    );
  },
};

function onOff(ctx: CommandContext, name: string): boolean | undefined {
  const value = ctx.string(name);
  if (value === undefined) return undefined;
  if (value === "on" || value === "off") return value === "on";
  throw new CliError(`--${name} must be on or off`);
}

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

export const appCommands: Command[] = [add, list, set, remove, keyCreate, keyList, keyRevoke];
