/**
 * Data the load scenarios need, made through Turkey's own HTTP API before any measured
 * window, so that no password hashing of the set-up lands in a figure — except the many
 * sessions the refresh load spends, which are written in SQL (see insertSessions).
 */
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { hashSecretToken } from "../../src/auth/secrets";
import { REFRESH_MAX_PER_SESSION } from "../../src/auth/sessions";
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

/**
 * Sessions for the refresh chains: a session refreshes at most REFRESH_MAX_PER_SESSION times
 * in 15 minutes, so the load needs its expected refreshes ÷ that many sessions. These allow
 * 30,000 refreshes, more than any window here sends.
 */
export const REFRESH_SESSIONS = Math.ceil(30_000 / REFRESH_MAX_PER_SESSION);

export async function createFixtures(
  baseUrl: string,
  scryptUrl: string,
  databaseUrl: string,
): Promise<Fixtures> {
  const email = `bench-${Date.now()}@example.com`;
  const scryptEmail = `bench-scrypt-${Date.now()}@example.com`;
  await post(scryptUrl, "/v1/auth/register", { email: scryptEmail, password: PASSWORD });
  const registered = await post<TokenResponse>(baseUrl, "/v1/auth/register", { email, password: PASSWORD });
  const doomed = await login(baseUrl, email);
  await post(baseUrl, "/v1/auth/logout", {}, doomed.accessToken);
  // Sessions of their own: a chain must never spend the session whose access token `me` uses.
  const refreshTokens = await insertSessions(databaseUrl, email, REFRESH_SESSIONS);
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

/**
 * Sessions of a user written in SQL, row for row what a sign-in writes (without the access
 * token, which the first refresh issues): a sign-in costs a password hash, hundreds of them
 * would cost minutes of set-up. Returns their refresh tokens.
 */
export async function insertSessions(databaseUrl: string, email: string, count: number): Promise<string[]> {
  const tokens = Array.from({ length: count }, () => randomBytes(32).toString("base64url"));
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(
      `insert into refresh_tokens (app_id, user_id, session_id, token_hash, access_jti, access_expires_at,
          expires_at, session_created_at)
         select u.app_id, u.id, gen_random_uuid(), hash, jti, now() + interval '15 minutes',
           now() + interval '7 days', now()
         from users u, unnest($2::text[], $3::text[]) as s(hash, jti)
         where u.email = $1 and u.app_id = $4`,
      [email, tokens.map(hashSecretToken), tokens.map(() => randomUUID()), APP_ID],
    );
  } finally {
    await client.end();
  }
  return tokens;
}
