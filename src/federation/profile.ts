/**
 * Who the provider says signed in: a stable subject, and an email with whether the provider
 * verified it. OIDC providers answer in the validated ID token (or, when it leaves the email
 * out, in UserInfo for the same subject); GitHub in its REST API, whose verified primary email
 * is the only one taken as verified.
 */
import * as oauth from "oauth4webapi";
import { normaliseEmail } from "../auth/users";
import type { ProviderConfig } from "./providers";
import { githubApiBase, type RequestOptions } from "./servers";

export interface Profile {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

export async function fetchProfile(
  config: ProviderConfig,
  server: oauth.AuthorizationServer,
  client: oauth.Client,
  tokens: oauth.TokenEndpointResponse,
  options: RequestOptions,
): Promise<Profile> {
  if (!config.oidc) return githubProfile(config.issuer, tokens.access_token);
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  if (!claims) throw new oauth.UnsupportedOperationError("no ID token");
  const fromToken = profileOf(claims);
  if (fromToken.email || !server.userinfo_endpoint) return fromToken;
  const response = await oauth.userInfoRequest(server, client, tokens.access_token, options);
  const info = await oauth.processUserInfoResponse(server, client, claims.sub, response);
  return { ...profileOf({ ...info, sub: claims.sub }), name: fromToken.name ?? stringOf(info.name) };
}

function profileOf(claims: Record<string, unknown>): Profile {
  const email = stringOf(claims.email);
  return {
    subject: String(claims.sub),
    email: email ? normaliseEmail(email) : null,
    // Apple sends the flag as the string "true".
    emailVerified: Boolean(email) && (claims.email_verified === true || claims.email_verified === "true"),
    name: stringOf(claims.name),
  };
}

function stringOf(value: unknown): string | null {
  return typeof value === "string" && value.length > 0 ? value : null;
}

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

async function githubProfile(base: string, accessToken: string): Promise<Profile> {
  const api = githubApiBase(base);
  const user = (await githubGet(`${api}/user`, accessToken)) as { id?: unknown; name?: unknown };
  if (typeof user.id !== "number" && typeof user.id !== "string")
    throw new oauth.UnsupportedOperationError("GitHub user without an id");
  const emails = (await githubGet(`${api}/user/emails`, accessToken)) as GithubEmail[];
  const primary = Array.isArray(emails) ? emails.find((entry) => entry.primary) : undefined;
  return {
    // The numeric id: a login can be renamed and then taken by someone else.
    subject: String(user.id),
    email: primary?.email ? normaliseEmail(primary.email) : null,
    emailVerified: primary?.verified === true,
    name: stringOf(user.name),
  };
}

async function githubGet(url: string, accessToken: string): Promise<unknown> {
  const response = await fetch(url, {
    headers: {
      authorization: `Bearer ${accessToken}`,
      accept: "application/vnd.github+json",
      "x-github-api-version": "2022-11-28",
      // GitHub refuses API requests without a User-Agent.
      "user-agent": "Turkey",
    },
  });
  if (!response.ok) throw new oauth.UnsupportedOperationError(`GitHub answered ${response.status}`);
  return response.json();
}
