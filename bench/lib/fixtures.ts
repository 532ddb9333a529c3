/**
 * Data the load scenarios need, made through Turkey's own HTTP API before any measured
 * window, so that no password hashing of the set-up lands in a figure.
 */
import { APP_ID } from "./environment";

export const PASSWORD = "correct horse battery staple";

export interface Fixtures {
  email: string;
  /** A user of the PASSWORD_HASH=scrypt Turkey, whose stored hash is scrypt. */
  scryptEmail: string;
  /** A live access token. */
  accessToken: string;
  /** An access token revoked by logout. */
  revokedToken: string;
  /** Unspent refresh tokens, one per session, to start the refresh chains from. */
  refreshTokens: string[];
}

interface TokenResponse {
  accessToken: string;
  refreshToken: string;
}

export async function createFixtures(
  baseUrl: string,
  scryptUrl: string,
  sessions: number,
): Promise<Fixtures> {
  const email = `bench-${Date.now()}@example.com`;
  const scryptEmail = `bench-scrypt-${Date.now()}@example.com`;
  await post(scryptUrl, "/v1/auth/register", { email: scryptEmail, password: PASSWORD });
  const registered = await post<TokenResponse>(baseUrl, "/v1/auth/register", { email, password: PASSWORD });
  const doomed = await login(baseUrl, email);
  await post(baseUrl, "/v1/auth/logout", {}, doomed.accessToken);
  const refreshTokens = [registered.refreshToken];
  while (refreshTokens.length < sessions) refreshTokens.push((await login(baseUrl, email)).refreshToken);
  return {
    email,
    scryptEmail,
    accessToken: registered.accessToken,
    revokedToken: doomed.accessToken,
    refreshTokens,
  };
}

export const jsonHeaders = (token?: string): Record<string, string> => ({
  "content-type": "application/json",
  "x-app-id": APP_ID,
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});

export function login(baseUrl: string, email: string): Promise<TokenResponse> {
  return post<TokenResponse>(baseUrl, "/v1/auth/login", { email, password: PASSWORD });
}

async function post<T = unknown>(baseUrl: string, path: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: jsonHeaders(token),
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`set-up: ${path} answered ${response.status}: ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}
