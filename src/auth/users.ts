/** Users as stored and as shown: the public view never carries the password hash. */
import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db";
import { users } from "../db/schema";

export interface UserRow {
  id: string;
  appId: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  createdAt: Date;
}

export interface UserView {
  id: string;
  appId: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  createdAt: string;
}

export function toUserView(user: UserRow): UserView {
  return {
    id: user.id,
    appId: user.appId,
    email: user.email,
    emailVerified: user.emailVerified,
    name: user.name,
    createdAt: new Date(user.createdAt).toISOString(),
  };
}

/** Emails are compared and stored trimmed and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const USER_COLUMNS = {
  id: users.id,
  appId: users.appId,
  email: users.email,
  emailVerified: users.emailVerified,
  name: users.name,
  createdAt: users.createdAt,
};

/** The user with this (already normalised) email in this app. */
export async function findUserByEmail(
  db: Database,
  appId: string,
  email: string,
): Promise<UserRow | undefined> {
  const [row] = await db
    .select(USER_COLUMNS)
    .from(users)
    .where(and(eq(users.email, email), eq(users.appId, appId)));
  return row;
}

/**
 * The token's user, and whether Postgres holds a revocation of the token. Asked in the same
 * round trip, so a revocation whose KV copy failed still holds where the database is read.
 */
export async function findUserForToken(
  db: Database,
  appId: string,
  claims: { sub: string; jti: string },
  now: Date,
): Promise<{ user: UserRow; revoked: boolean } | undefined> {
  const [row] = await db
    .select({
      ...USER_COLUMNS,
      revoked: sql<boolean>`exists (select 1 from revoked_jti where jti = ${claims.jti} and expires_at > ${now})`,
    })
    .from(users)
    .where(and(eq(users.id, claims.sub), eq(users.appId, appId)));
  if (!row) return undefined;
  const { revoked, ...user } = row;
  return { user, revoked };
}

/** Maps a raw SQL row (snake_case) to a UserRow. */
export function userFromSql(row: Record<string, unknown>): UserRow {
  return {
    id: String(row.id),
    appId: String(row.app_id),
    email: String(row.email),
    emailVerified: Boolean(row.email_verified),
    name: row.name === null || row.name === undefined ? null : String(row.name),
    createdAt: new Date(row.created_at as string | Date),
  };
}
