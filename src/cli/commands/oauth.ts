/** `gravy app provider add | list | remove` and `gravy app redirect add | list | remove`. */
import { readFileSync } from "node:fs";
import { parseKeysConfig } from "../../config";
import type { Command, CommandContext } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { CliError } from "../errors";
import {
  addProvider,
  addRedirect,
  checkNewProvider,
  checkRedirect,
  listProviders,
  listRedirects,
  removeProvider,
  removeRedirect,
} from "../oauth";
import { formatTable, writeJson, writeLines } from "../output";

const CALLBACK_NOTE =
  "Register <Turkey's URL>/v1/auth/oauth/<provider>/callback as the redirect URI at the provider.";

const providerAdd: Command = {
  name: "app provider add",
  summary: "Turn on sign-in with google, github, microsoft, apple or any OIDC provider (oidc) for an app.",
  arguments: "<appId> <provider>",
  details:
    "The client secret is sealed under ENCRYPTION_KEY. Adding a provider the app already has replaces its settings. " +
    "--issuer names an oidc provider's issuer; for a preset it points elsewhere (GitHub Enterprise's base URL, a Microsoft tenant, a test server). " +
    CALLBACK_NOTE,
  positionals: { min: 2, max: 2 },
  options: {
    "client-id": {
      type: "string",
      valueName: "id",
      description: "the client id the provider issued (required)",
    },
    "client-secret": { type: "string", valueName: "secret", description: "its client secret" },
    "client-secret-file": {
      type: "string",
      valueName: "path",
      description: "read the secret from a file instead (e.g. Apple's .p8 key)",
    },
    issuer: { type: "string", valueName: "url", description: "OIDC issuer (required for oidc)" },
    scopes: {
      type: "string",
      valueName: "scopes",
      description: "space-separated; the provider's defaults otherwise",
    },
    tenant: {
      type: "string",
      valueName: "tenant",
      description: "microsoft: tenant id or domain (default common)",
    },
    "team-id": { type: "string", valueName: "id", description: "apple: team id, with a .p8 key" },
    "key-id": { type: "string", valueName: "id", description: "apple: key id of the .p8 key" },
  },
  async run(ctx) {
    const provider = checkNewProvider({
      appId: ctx.positional(0),
      provider: ctx.positional(1),
      clientId: ctx.string("client-id"),
      clientSecret: secretOf(ctx),
      issuer: ctx.string("issuer"),
      tenant: ctx.string("tenant"),
      scopes: ctx.string("scopes"),
      appleTeamId: ctx.string("team-id"),
      appleKeyId: ctx.string("key-id"),
    });
    const { encryptionKeys } = parseKeysConfig(ctx.io.env);
    const added = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      addProvider(handle.pool, encryptionKeys, provider),
    );
    if (ctx.json) return writeJson(ctx.io, { app: provider.appId, provider: provider.provider, added });
    writeLines(
      ctx.io,
      `${added ? "Enabled" : "Updated"} ${provider.provider} sign-in for app "${provider.appId}".`,
      CALLBACK_NOTE.replace("<provider>", provider.provider),
    );
  },
};

function secretOf(ctx: CommandContext): string | undefined {
  const file = ctx.string("client-secret-file");
  if (file && ctx.string("client-secret"))
    throw new CliError("Give --client-secret or --client-secret-file, not both");
  if (!file) return ctx.string("client-secret");
  try {
    return readFileSync(file, "utf8");
  } catch {
    throw new CliError(`Cannot read ${file}`);
  }
}

const providerList: Command = {
  name: "app provider list",
  summary: "List an app's sign-in providers (never their secrets).",
  arguments: "<appId>",
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const providers = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      listProviders(handle.pool, ctx.positional(0)),
    );
    if (ctx.json) return writeJson(ctx.io, { providers });
    if (providers.length === 0)
      return writeLines(ctx.io, "No sign-in providers. Add one with `gravy app provider add`.");
    writeLines(
      ctx.io,
      formatTable(
        providers.map((row) => ({ ...row, issuer: row.issuer ?? "(preset)" })),
        [
          { key: "provider", title: "Provider" },
          { key: "clientId", title: "Client id" },
          { key: "issuer", title: "Issuer" },
          { key: "scopes", title: "Scopes" },
          { key: "createdAt", title: "Added" },
        ],
      ),
    );
  },
};

const providerRemove: Command = {
  name: "app provider remove",
  summary: "Turn a sign-in provider off. Linked identities stay, and work again if it is added back.",
  arguments: "<appId> <provider>",
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const [appId, provider] = [ctx.positional(0), ctx.positional(1)];
    await withDatabase(databaseTarget(ctx.io.env), (handle) => removeProvider(handle.pool, appId, provider));
    if (ctx.json) return writeJson(ctx.io, { app: appId, removed: provider });
    writeLines(ctx.io, `Removed ${provider} sign-in from app "${appId}".`);
  },
};

const redirectAdd: Command = {
  name: "app redirect add",
  summary: "Allow social sign-ins of an app to return to this exact URL.",
  arguments: "<appId> <url>",
  details: "Matching is exact: no prefixes, no wildcards; query and path must be what the app sends.",
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const appId = ctx.positional(0);
    const url = checkRedirect(ctx.positional(1));
    const added = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      addRedirect(handle.pool, appId, url),
    );
    if (ctx.json) return writeJson(ctx.io, { app: appId, url, added });
    writeLines(
      ctx.io,
      added ? `App "${appId}" may now return to ${url}.` : `App "${appId}" already had ${url}.`,
    );
  },
};

const redirectList: Command = {
  name: "app redirect list",
  summary: "List the URLs an app's social sign-ins may return to.",
  arguments: "<appId>",
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const redirects = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      listRedirects(handle.pool, ctx.positional(0)),
    );
    if (ctx.json) return writeJson(ctx.io, { redirects });
    if (redirects.length === 0)
      return writeLines(ctx.io, "No return URLs. Add one with `gravy app redirect add`.");
    writeLines(
      ctx.io,
      formatTable(redirects, [
        { key: "url", title: "URL" },
        { key: "createdAt", title: "Added" },
      ]),
    );
  },
};

const redirectRemove: Command = {
  name: "app redirect remove",
  summary: "Stop allowing an app's social sign-ins to return to a URL.",
  arguments: "<appId> <url>",
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const [appId, url] = [ctx.positional(0), ctx.positional(1)];
    await withDatabase(databaseTarget(ctx.io.env), (handle) => removeRedirect(handle.pool, appId, url));
    if (ctx.json) return writeJson(ctx.io, { app: appId, removed: url });
    writeLines(ctx.io, `App "${appId}" may no longer return to ${url}.`);
  },
};

export const oauthCommands: Command[] = [
  providerAdd,
  providerList,
  providerRemove,
  redirectAdd,
  redirectList,
  redirectRemove,
];
