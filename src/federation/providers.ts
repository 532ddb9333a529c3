/**
 * The social sign-in providers Turkey knows, and one app's configuration of them. Google,
 * Microsoft, Apple and any `oidc` provider are OpenID Connect: their endpoints and keys come
 * from discovery (cached in the isolate). GitHub is plain OAuth 2.0 with fixed endpoints.
 * A row may override a preset's issuer (GitHub: its base URL), e.g. GitHub Enterprise, or a
 * local provider in tests.
 */

import { sql } from "drizzle-orm";
import type * as oauth from "oauth4webapi";
import type { EncryptionSecrets } from "../crypto/seal";
import { open } from "../crypto/seal";
import type { Database } from "../db";

export const PROVIDERS = ["google", "github", "microsoft", "apple", "oidc"] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export interface Preset {
  /** The issuer when the row sets none; undefined for `oidc`, which must name one. */
  issuer?: string;
  oidc: boolean;
  scopes: string;
  /** Apple returns the user's name and email only in a form POST to the callback. */
  responseMode?: "form_post";
}

export const PRESETS: Record<ProviderName, Preset> = {
  google: { issuer: "https://accounts.google.com", oidc: true, scopes: "openid email profile" },
  microsoft: {
    issuer: "https://login.microsoftonline.com/common/v2.0",
    oidc: true,
    scopes: "openid email profile",
  },
  apple: {
    issuer: "https://appleid.apple.com",
    oidc: true,
    scopes: "openid email",
    responseMode: "form_post",
  },
  github: { issuer: "https://github.com", oidc: false, scopes: "read:user user:email" },
  oidc: { oidc: true, scopes: "openid email profile" },
};

export function isProviderName(value: string): value is ProviderName {
  return (PROVIDERS as readonly string[]).includes(value);
}

/** One app's provider, secret opened. */
export interface ProviderConfig {
  appId: string;
  provider: ProviderName;
  clientId: string;
  clientSecret: string;
  issuer: string;
  scopes: string;
  oidc: boolean;
  responseMode?: "form_post";
}

/** The associated data a client secret is sealed with: its app and provider. */
export function clientSecretContext(appId: string, provider: string): string {
  return `${appId}/${provider}`;
}

/** The app's configuration of the provider, or undefined when the app has not turned it on. */
export async function findProvider(
  db: Database,
  secrets: EncryptionSecrets,
  appId: string,
  provider: ProviderName,
): Promise<ProviderConfig | undefined> {
  const result = await db.execute(sql`
    select client_id, client_secret_sealed, issuer, scopes from oauth_providers
    where app_id = ${appId} and provider = ${provider}`);
  const row = result.rows[0];
  if (!row) return undefined;
  const preset = PRESETS[provider];
  const opened = await open(
    secrets,
    "oauth-client-secret",
    String(row.client_secret_sealed),
    clientSecretContext(appId, provider),
  );
  const issuer = (row.issuer as string | null) ?? preset.issuer;
  if (!issuer) return undefined;
  return {
    appId,
    provider,
    clientId: String(row.client_id),
    clientSecret: new TextDecoder().decode(opened.plaintext),
    issuer,
    scopes: (row.scopes as string | null) ?? preset.scopes,
    oidc: preset.oidc,
    ...(preset.responseMode ? { responseMode: preset.responseMode } : {}),
  };
}

/** The oauth4webapi client of a configuration. */
export function clientOf(config: ProviderConfig): oauth.Client {
  return { client_id: config.clientId };
}
