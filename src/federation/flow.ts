/**
 * A social sign-in, from Turkey's side: the authorize redirect to the provider and the
 * provider's callback. oauth4webapi does the protocol (PKCE, state, ID token checks); this
 * module keeps the sign-in's state in Postgres:
 * - `state` is 256 random bits, stored hashed, single-use, 10 minutes, bound to the app, the
 *   provider, the return URL and the app's own PKCE challenge;
 * - Turkey's PKCE verifier towards the provider is sealed, bound to the state's row;
 * - the return URL is on the app's exact allow-list, checked at both ends.
 * The callback's side is in ./callback.ts.
 */
import { sql } from "drizzle-orm";
import * as oauth from "oauth4webapi";
import { hashSecretToken } from "../auth/secrets";
import type { AuthContext } from "../auth/session-context";
import { seal } from "../crypto/seal";
import { ApiError } from "../errors";
import { findProvider, type ProviderConfig, type ProviderName } from "./providers";
import { isAllowedRedirect } from "./redirects";
import { authorizationServer } from "./servers";

export const STATE_TTL_MS = 10 * 60_000;

export interface StartInput {
  provider: ProviderName;
  redirectTo: string;
  /** The app's S256 challenge; absent when a signed-in user links a provider. */
  codeChallenge?: string;
  linkUserId?: string;
}

/** The provider's authorization URL for a new sign-in (or link) of the app. */
export async function startSignIn(ctx: AuthContext, input: StartInput): Promise<URL> {
  const config = await providerOf(ctx, input.provider);
  if (!(await isAllowedRedirect(ctx.db, ctx.app.id, input.redirectTo)))
    throw new ApiError("redirect_not_allowed");
  const server = await reachProvider(() => authorizationServer(config, allowHttp(ctx), ctx.now.getTime()));
  if (!server.authorization_endpoint) throw new ApiError("provider_error");
  const secrets: FlowSecrets = {
    state: oauth.generateRandomState(),
    verifier: oauth.generateRandomCodeVerifier(),
    nonce: config.oidc ? oauth.generateRandomNonce() : null,
  };
  await storeState(ctx, input, secrets);
  const url = new URL(server.authorization_endpoint);
  const params = {
    client_id: config.clientId,
    redirect_uri: callbackUrl(ctx, config.provider),
    response_type: "code",
    scope: config.scopes,
    state: secrets.state,
    code_challenge: await oauth.calculatePKCECodeChallenge(secrets.verifier),
    code_challenge_method: "S256",
    ...(secrets.nonce ? { nonce: secrets.nonce } : {}),
    ...(config.responseMode ? { response_mode: config.responseMode } : {}),
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url;
}

interface FlowSecrets {
  state: string;
  verifier: string;
  nonce: string | null;
}

/** The sign-in in progress: state hashed, verifier sealed to its row, 10 minutes. */
async function storeState(ctx: AuthContext, input: StartInput, secrets: FlowSecrets): Promise<void> {
  const id = crypto.randomUUID();
  const keys = ctx.config.encryptionKeys;
  const verifierSealed = await seal(keys, "oauth-flow", secrets.verifier, flowContext(ctx.app.id, id));
  await ctx.db.execute(sql`
    insert into oauth_states (id, app_id, provider, state_hash, code_challenge, redirect_to, verifier_sealed,
      nonce, link_user_id, created_at, expires_at)
    values (${id}::uuid, ${ctx.app.id}, ${input.provider}, ${hashSecretToken(secrets.state)},
      ${input.codeChallenge ?? null}, ${input.redirectTo}, ${verifierSealed}, ${secrets.nonce},
      ${input.linkUserId ?? null}::uuid, ${ctx.now}, ${new Date(ctx.now.getTime() + STATE_TTL_MS)})`);
}

/** A spent state: the sign-in it started, with the app it belongs to. */
export interface Flow {
  id: string;
  appId: string;
  provider: ProviderName;
  codeChallenge: string | null;
  redirectTo: string;
  verifierSealed: string;
  nonce: string | null;
  linkUserId: string | null;
}

/**
 * Spends the state of a sign-in in progress with this provider; undefined when it is unknown,
 * expired, already used or another provider's. Spent before anything else happens, so a
 * replayed callback finds nothing.
 */
export async function spendState(
  ctx: Pick<AuthContext, "db" | "now">,
  provider: ProviderName,
  state: string,
): Promise<Flow | undefined> {
  const result = await ctx.db.execute(sql`
    update oauth_states set used_at = ${ctx.now}
    where state_hash = ${hashSecretToken(state)} and provider = ${provider}
      and used_at is null and expires_at > ${ctx.now}
    returning id, app_id, code_challenge, redirect_to, verifier_sealed, nonce, link_user_id`);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    id: String(row.id),
    appId: String(row.app_id),
    provider,
    codeChallenge: (row.code_challenge as string | null) ?? null,
    redirectTo: String(row.redirect_to),
    verifierSealed: String(row.verifier_sealed),
    nonce: (row.nonce as string | null) ?? null,
    linkUserId: (row.link_user_id as string | null) ?? null,
  };
}

export async function providerOf(ctx: AuthContext, provider: ProviderName): Promise<ProviderConfig> {
  const config = await findProvider(ctx.db, ctx.config.encryptionKeys, ctx.app.id, provider);
  if (!config) throw new ApiError("provider_not_enabled");
  return config;
}

/**
 * Runs a call to the provider: protocol failures (a bad ID token, a refused code) become
 * provider_error, anything else (unreachable, timed out) provider_unavailable.
 */
export async function reachProvider<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof oauth.AuthorizationResponseError && error.error === "access_denied")
      throw new ApiError("access_denied");
    if (isProtocolError(error)) throw new ApiError("provider_error");
    throw new ApiError("provider_unavailable");
  }
}

function isProtocolError(error: unknown): boolean {
  return (
    error instanceof oauth.OperationProcessingError ||
    error instanceof oauth.ResponseBodyError ||
    error instanceof oauth.AuthorizationResponseError ||
    error instanceof oauth.WWWAuthenticateChallengeError ||
    error instanceof oauth.UnsupportedOperationError
  );
}

/** The callback URL given to the provider; the same for every app. */
export function callbackUrl(ctx: Pick<AuthContext, "origin">, provider: ProviderName): string {
  return `${ctx.origin ?? ""}/v1/auth/oauth/${provider}/callback`;
}

export function allowHttp(ctx: Pick<AuthContext, "config">): boolean {
  return ctx.config.nodeEnv !== "production";
}

export function flowContext(appId: string, id: string): string {
  return `${appId}/${id}`;
}
