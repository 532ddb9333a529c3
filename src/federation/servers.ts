/**
 * The authorization server of a provider, as oauth4webapi takes it: from OIDC discovery
 * (cached in the isolate, with the JWKS oauth4webapi caches per server object), or GitHub's
 * fixed endpoints. Plain http is allowed outside production only (local providers in tests).
 */
import * as oauth from "oauth4webapi";
import type { ProviderConfig } from "./providers";

const DISCOVERY_TTL_MS = 10 * 60_000;
const servers = new Map<string, { server: Promise<oauth.AuthorizationServer>; expiresAtMs: number }>();

/** Microsoft's multi-tenant endpoints publish a templated issuer; each token names its tenant. */
const MICROSOFT_MULTI_TENANT = /^https:\/\/login\.microsoftonline\.com\/(common|organizations)\/v2\.0\/?$/;
const TENANT_PLACEHOLDER = "{tenantid}";

// oauth4webapi's hook for an issuer that depends on the token (Microsoft's tenant); exported by
// the library but left out of its type declarations.
const expectedIssuer = (oauth as unknown as { _expectedIssuer: symbol })._expectedIssuer;

export interface RequestOptions {
  [oauth.allowInsecureRequests]?: boolean;
}

export function requestOptions(allowHttp: boolean): RequestOptions {
  return allowHttp ? { [oauth.allowInsecureRequests]: true } : {};
}

/** The provider's authorization server; discovery results are shared by the isolate's requests. */
export function authorizationServer(
  config: ProviderConfig,
  allowHttp: boolean,
  nowMs: number,
): Promise<oauth.AuthorizationServer> {
  if (!config.oidc) return Promise.resolve(githubServer(config.issuer));
  const key = `${config.issuer} ${allowHttp}`;
  const cached = servers.get(key);
  if (cached && cached.expiresAtMs > nowMs) return cached.server;
  const server = discover(config.issuer, allowHttp);
  // A failed discovery is not remembered: the next sign-in tries again.
  server.catch(() => servers.delete(key));
  servers.set(key, { server, expiresAtMs: nowMs + DISCOVERY_TTL_MS });
  return server;
}

/** OIDC discovery of `issuer`; `fetchImpl` stands in for the network in unit tests. */
export async function discover(
  issuer: string,
  allowHttp: boolean,
  fetchImpl?: typeof fetch,
): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer);
  const response = await oauth.discoveryRequest(url, {
    ...requestOptions(allowHttp),
    ...(fetchImpl ? { [oauth.customFetch]: fetchImpl } : {}),
    algorithm: "oidc",
  });
  const multiTenant = MICROSOFT_MULTI_TENANT.test(issuer);
  const expected = multiTenant
    ? new URL(issuer.replace(/\/(common|organizations)\//, `/${TENANT_PLACEHOLDER}/`))
    : url;
  const server = await oauth.processDiscoveryResponse(expected, response);
  if (!multiTenant) return server;
  return Object.assign(server, {
    [expectedIssuer]: (result: { claims: Record<string, unknown> }) =>
      server.issuer.replace(TENANT_PLACEHOLDER, String(result.claims.tid)),
  });
}

/**
 * GitHub's endpoints under its web base; its REST API is api.github.com for github.com and
 * `<base>/api/v3` for GitHub Enterprise Server.
 */
function githubServer(base: string): oauth.AuthorizationServer {
  const web = base.replace(/\/+$/, "");
  return {
    issuer: web,
    authorization_endpoint: `${web}/login/oauth/authorize`,
    token_endpoint: `${web}/login/oauth/access_token`,
  };
}

export function githubApiBase(base: string): string {
  const web = base.replace(/\/+$/, "");
  return web === "https://github.com" ? "https://api.github.com" : `${web}/api/v3`;
}

/** Forgets discovered servers (tests). */
export function forgetServers(): void {
  servers.clear();
}
