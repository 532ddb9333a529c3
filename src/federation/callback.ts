/**
 * The provider's callback of a social sign-in whose state was spent (./flow.ts): the provider's
 * code is exchanged with Turkey's sealed PKCE verifier, the ID token validated (or GitHub asked),
 * and the user signed in — answered to the app with a one-time code (src/auth/handoff.ts), never
 * tokens — or the identity linked. Every refusal is audited as `oauth_failed`.
 */
import { sql } from "drizzle-orm";
import * as oauth from "oauth4webapi";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { issueHandoffCode } from "../auth/handoff";
import type { AuthContext } from "../auth/session-context";
import { open } from "../crypto/seal";
import { ApiError } from "../errors";
import { appleClientSecret } from "./apple";
import { allowHttp, callbackUrl, type Flow, flowContext, providerOf, reachProvider } from "./flow";
import { linkIdentity, resolveSignIn } from "./identities";
import { fetchProfile, type Profile } from "./profile";
import { clientOf, type ProviderConfig } from "./providers";
import { isAllowedRedirect } from "./redirects";
import { authorizationServer, requestOptions } from "./servers";

/**
 * Completes the flow whose state was spent: checks the provider's answer, exchanges its code
 * with Turkey's verifier, validates the ID token (or asks GitHub), and signs the user in or
 * links the identity. Answers the query to append to the return URL; throws ApiError for an
 * error to send back to the app.
 */
export async function completeSignIn(
  ctx: AuthContext,
  flow: Flow,
  params: URLSearchParams,
): Promise<Record<string, string>> {
  try {
    return await finishFlow(ctx, flow, params);
  } catch (error) {
    if (error instanceof ApiError) await auditFailure(ctx, flow, error.code);
    throw error;
  }
}

async function auditFailure(ctx: AuthContext, flow: Flow, reason: string): Promise<void> {
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues("oauth_failed", ctx.app.id, flow.linkUserId, ctx.client, ctx.now, {
      provider: flow.provider,
      reason,
    })})`);
}

async function finishFlow(
  ctx: AuthContext,
  flow: Flow,
  params: URLSearchParams,
): Promise<Record<string, string>> {
  // The allow-list may have changed since the sign-in started.
  if (!(await isAllowedRedirect(ctx.db, ctx.app.id, flow.redirectTo)))
    throw new ApiError("redirect_not_allowed");
  if (params.get("error") === "access_denied") throw new ApiError("access_denied");
  const config = await providerOf(ctx, flow.provider);
  const profile = await reachProvider(() => exchangeCode(ctx, config, flow, params));
  if (flow.linkUserId) {
    await linkIdentity(ctx, flow.linkUserId, flow.provider, profile);
    return { linked: flow.provider };
  }
  if (!flow.codeChallenge) throw new ApiError("validation_failed");
  const userId = await resolveSignIn(ctx, flow.provider, profile);
  const code = await issueHandoffCode(ctx, {
    userId,
    codeChallenge: flow.codeChallenge,
    amr: ["fed"],
    method: `oauth:${flow.provider}`,
  });
  return { code };
}

async function exchangeCode(
  ctx: AuthContext,
  config: ProviderConfig,
  flow: Flow,
  params: URLSearchParams,
): Promise<Profile> {
  const options = requestOptions(allowHttp(ctx));
  const server = await authorizationServer(config, allowHttp(ctx), ctx.now.getTime());
  const client = clientOf(config);
  const state = params.get("state") ?? "";
  const callback = oauth.validateAuthResponse(server, client, params, state);
  const verifier = await open(
    ctx.config.encryptionKeys,
    "oauth-flow",
    flow.verifierSealed,
    flowContext(flow.appId, flow.id),
  );
  const response = await oauth.authorizationCodeGrantRequest(
    server,
    client,
    clientAuthentication(server, config, await clientSecretOf(config, ctx.now)),
    callback,
    callbackUrl(ctx, config.provider),
    new TextDecoder().decode(verifier.plaintext),
    options,
  );
  const tokens = await oauth.processAuthorizationCodeResponse(server, client, response, {
    ...(flow.nonce ? { expectedNonce: flow.nonce } : {}),
    requireIdToken: config.oidc,
  });
  // oauth4webapi leaves the ID token's signature to the caller: check it against the JWKS.
  if (config.oidc) await oauth.validateApplicationLevelSignature(server, response, options);
  return fetchProfile(config, server, client, tokens, options);
}

/** Client authentication the provider takes: Basic unless it only lists client_secret_post. */
function clientAuthentication(
  server: oauth.AuthorizationServer,
  config: ProviderConfig,
  secret: string,
): oauth.ClientAuth {
  const methods = server.token_endpoint_auth_methods_supported;
  const postOnly = !config.oidc || (methods && !methods.includes("client_secret_basic"));
  return postOnly ? oauth.ClientSecretPost(secret) : oauth.ClientSecretBasic(secret);
}

function clientSecretOf(config: ProviderConfig, now: Date): Promise<string> {
  if (config.provider !== "apple") return Promise.resolve(config.clientSecret);
  return appleClientSecret(config.clientSecret, config.clientId, config.issuer, now);
}
