/**
 * Social sign-in settings of an app from the command line: its providers (client secret sealed
 * under ENCRYPTION_KEY) and the exact URLs a sign-in may return to. Workers read both per
 * sign-in, so a change applies at once.
 */
import type pg from "pg";
import { type EncryptionSecrets, seal } from "../crypto/seal";
import { clientSecretContext, isProviderName, PRESETS, type ProviderName } from "../federation/providers";
import { CliError } from "./errors";

export interface NewProvider {
  appId: string;
  provider: ProviderName;
  clientId: string;
  /** As stored: for Apple with a signing key, the JSON of team id, key id and key. */
  clientSecret: string;
  issuer: string | null;
  scopes: string | null;
}

export interface ProviderInput {
  appId: string;
  provider: string;
  clientId: string | undefined;
  clientSecret: string | undefined;
  issuer: string | undefined;
  tenant: string | undefined;
  scopes: string | undefined;
  appleTeamId: string | undefined;
  appleKeyId: string | undefined;
}

/** Checks the options of `gravy app provider add`. */
export function checkNewProvider(input: ProviderInput): NewProvider {
  const { provider } = input;
  if (!isProviderName(provider))
    throw new CliError(`The provider must be one of ${Object.keys(PRESETS).join(", ")}`);
  if (!input.clientId?.trim()) throw new CliError("--client-id is required");
  if (!input.clientSecret?.trim())
    throw new CliError("--client-secret (or --client-secret-file) is required");
  if (provider === "oidc" && !input.issuer) throw new CliError("--issuer is required for an oidc provider");
  if (input.tenant && provider !== "microsoft") throw new CliError("--tenant applies to microsoft only");
  if ((input.appleTeamId || input.appleKeyId) && provider !== "apple")
    throw new CliError("--team-id and --key-id apply to apple only");
  const issuer = input.tenant ? `https://login.microsoftonline.com/${input.tenant}/v2.0` : input.issuer;
  return {
    appId: input.appId,
    provider,
    clientId: input.clientId.trim(),
    clientSecret: appleSecret(input) ?? input.clientSecret.trim(),
    issuer: issuer ? checkIssuer(issuer) : null,
    scopes: input.scopes?.trim()
      ? input.scopes
          .trim()
          .split(/[\s,]+/)
          .join(" ")
      : null,
  };
}

/** Apple's client secret is a JWT Turkey signs with the app's key (.p8), team id and key id. */
function appleSecret(input: ProviderInput): string | undefined {
  if (input.provider !== "apple" || !input.clientSecret?.includes("PRIVATE KEY")) return undefined;
  if (!input.appleTeamId || !input.appleKeyId)
    throw new CliError("An Apple signing key (.p8) needs --team-id and --key-id");
  return JSON.stringify({
    teamId: input.appleTeamId,
    keyId: input.appleKeyId,
    privateKey: input.clientSecret.trim(),
  });
}

function checkIssuer(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new CliError("--issuer must be an absolute URL");
  }
  const local = url.hostname === "localhost" || url.hostname === "127.0.0.1";
  if (url.protocol !== "https:" && !(local && url.protocol === "http:"))
    throw new CliError("--issuer must be an https URL (http only for localhost)");
  return issuer.replace(/\/+$/, "");
}

/** Enables the provider for the app, or replaces its settings; true when it was new. */
export async function addProvider(
  pool: pg.Pool,
  secrets: EncryptionSecrets,
  provider: NewProvider,
): Promise<boolean> {
  const sealed = await seal(
    secrets,
    "oauth-client-secret",
    provider.clientSecret,
    clientSecretContext(provider.appId, provider.provider),
  );
  await requireApp(pool, provider.appId);
  const result = await pool.query<{ inserted: boolean }>(
    `insert into oauth_providers (app_id, provider, client_id, client_secret_sealed, issuer, scopes)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (app_id, provider) do update set client_id = excluded.client_id,
       client_secret_sealed = excluded.client_secret_sealed, issuer = excluded.issuer, scopes = excluded.scopes
     returning (xmax = 0) as inserted`,
    [provider.appId, provider.provider, provider.clientId, sealed, provider.issuer, provider.scopes],
  );
  return result.rows[0]?.inserted === true;
}

export interface ProviderSummary {
  provider: string;
  clientId: string;
  issuer: string | null;
  scopes: string;
  createdAt: Date;
}

/** The app's providers; never their secrets. */
export async function listProviders(pool: pg.Pool, appId: string): Promise<ProviderSummary[]> {
  await requireApp(pool, appId);
  const result = await pool.query<ProviderSummary & { provider: ProviderName; scopes: string | null }>(
    `select provider, client_id as "clientId", issuer, scopes, created_at as "createdAt"
     from oauth_providers where app_id = $1 order by provider`,
    [appId],
  );
  return result.rows.map((row) => ({ ...row, scopes: row.scopes ?? PRESETS[row.provider].scopes }));
}

export async function removeProvider(pool: pg.Pool, appId: string, provider: string): Promise<void> {
  const result = await pool.query("delete from oauth_providers where app_id = $1 and provider = $2", [
    appId,
    provider,
  ]);
  if (result.rowCount === 0) throw new CliError(`App "${appId}" has no provider "${provider}"`);
}

/** A return URL exactly as the app will send it: absolute http(s), no fragment, already normal. */
export function checkRedirect(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError("The return URL must be an absolute http(s) URL");
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
    throw new CliError("The return URL must be an http(s) URL");
  if (parsed.hash || url.includes("#")) throw new CliError("A return URL cannot have a #fragment");
  // Matching is exact, so a URL the browser would spell differently could never match.
  if (parsed.href !== url) throw new CliError(`Write the return URL as ${parsed.href}`);
  return url;
}

export async function addRedirect(pool: pg.Pool, appId: string, url: string): Promise<boolean> {
  await requireApp(pool, appId);
  const result = await pool.query(
    "insert into oauth_redirects (app_id, url) values ($1, $2) on conflict do nothing",
    [appId, url],
  );
  return result.rowCount === 1;
}

export async function listRedirects(
  pool: pg.Pool,
  appId: string,
): Promise<{ url: string; createdAt: Date }[]> {
  await requireApp(pool, appId);
  const result = await pool.query<{ url: string; createdAt: Date }>(
    `select url, created_at as "createdAt" from oauth_redirects where app_id = $1 order by url`,
    [appId],
  );
  return result.rows;
}

export async function removeRedirect(pool: pg.Pool, appId: string, url: string): Promise<void> {
  const result = await pool.query("delete from oauth_redirects where app_id = $1 and url = $2", [appId, url]);
  if (result.rowCount === 0) throw new CliError(`App "${appId}" has no return URL ${url}`);
}

async function requireApp(pool: pg.Pool, appId: string): Promise<void> {
  const found = await pool.query("select 1 from apps where id = $1", [appId]);
  if (found.rowCount === 0) throw new CliError(`No app "${appId}"`);
}
