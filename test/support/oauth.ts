/** Arranging and walking social sign-ins against the fake providers (test/support/fake-providers.ts). */
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { seal } from "../../src/crypto/seal";
import { clientSecretContext, type ProviderName } from "../../src/federation/providers";
import type { Script } from "./fake-providers";
import type { TestApp } from "./fixtures";
import { bindings, openTestDatabase, postJson, send } from "./worker";

export const providersUrl = String(bindings.TEST_PROVIDERS_URL);

export const encryption = {
  current: String(bindings.ENCRYPTION_KEY),
  previous: undefined,
};

export interface ProviderSetup {
  clientId: string;
  clientSecret: string;
}

/** Turns the provider on for the app, pointed at the fake, and registers `redirects`. */
export async function enableProvider(
  appId: string,
  provider: ProviderName,
  redirects: string[],
  issuer = provider === "github" ? `${providersUrl}/github` : `${providersUrl}/${provider}`,
  setup: ProviderSetup = {
    clientId: `client-${crypto.randomUUID()}`,
    clientSecret: `secret-${crypto.randomUUID()}`,
  },
): Promise<ProviderSetup> {
  const sealed = await seal(
    encryption,
    "oauth-client-secret",
    setup.clientSecret,
    clientSecretContext(appId, provider),
  );
  const handle = openTestDatabase();
  try {
    await handle.db.execute(sql`
      insert into oauth_providers (app_id, provider, client_id, client_secret_sealed, issuer)
      values (${appId}, ${provider}, ${setup.clientId}, ${sealed}, ${issuer})`);
    for (const url of redirects)
      await handle.db.execute(
        sql`insert into oauth_redirects (app_id, url) values (${appId}, ${url}) on conflict do nothing`,
      );
  } finally {
    await handle.close();
  }
  return setup;
}

/** Scripts who the fake provider signs in as for this client. */
export async function script(
  setup: ProviderSetup,
  account: Omit<Script, "clientId" | "clientSecret">,
): Promise<void> {
  const response = await fetch(`${providersUrl}/script`, {
    method: "POST",
    body: JSON.stringify({ ...setup, ...account }),
  });
  expect(response.status).toBe(204);
}

/** A PKCE pair as the app's browser code makes it. */
export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return { verifier, challenge: toBase64Url(new Uint8Array(digest)) };
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function authorizePath(
  provider: string,
  appId: string,
  redirectTo: string,
  challenge: string,
): string {
  const query = new URLSearchParams({
    app_id: appId,
    redirect_to: redirectTo,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  return `/v1/auth/oauth/${provider}/authorize?${query}`;
}

/** Follows the authorize redirect to the fake provider; answers the callback URL it sends back. */
export async function visitProvider(providerUrl: string): Promise<URL> {
  const response = await fetch(providerUrl, { redirect: "manual" });
  expect(response.status).toBe(302);
  return new URL(String(response.headers.get("location")));
}

/** Sends the provider's callback into Turkey; answers where Turkey redirects. */
export async function callback(app: TestApp, callbackUrl: URL): Promise<Response> {
  return send(app, callbackUrl.pathname + callbackUrl.search);
}

/** A whole sign-in: authorize, provider, callback. Answers the callback's response. */
export async function walkSignIn(
  app: TestApp,
  provider: string,
  appId: string,
  redirectTo: string,
  challenge: string,
): Promise<Response> {
  const started = await send(app, authorizePath(provider, appId, redirectTo, challenge));
  expect(started.status).toBe(302);
  return callback(app, await visitProvider(String(started.headers.get("location"))));
}

/** The query of a redirect back to the app. */
export function returned(response: Response): URLSearchParams {
  expect(response.status).toBe(302);
  return new URL(String(response.headers.get("location"))).searchParams;
}

export interface SignedIn {
  accessToken: string;
  refreshToken: string;
  user: { id: string; email: string; emailVerified: boolean };
}

/** POST /v1/auth/token: the one-time code and the app's verifier; the raw answer. */
export function redeem(app: TestApp, appId: string, code: string, verifier: string): Promise<Response> {
  return send(
    app,
    "/v1/auth/token",
    postJson({ grant_type: "authorization_code", code, code_verifier: verifier }, { "x-app-id": appId }),
  );
}

/** Exchanges the one-time code for a session. */
export async function exchange(
  app: TestApp,
  appId: string,
  code: string,
  verifier: string,
): Promise<SignedIn> {
  const response = await redeem(app, appId, code, verifier);
  if (response.status !== 200) throw new Error(`exchange failed: ${await response.text()}`);
  return (await response.json()) as SignedIn;
}
