/**
 * Where a social sign-in may return: exact URLs registered per app (`gravy app redirect add`).
 * No prefixes or wildcards: a return URL decides who receives the one-time code.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db";

export async function isAllowedRedirect(db: Database, appId: string, url: string): Promise<boolean> {
  const result = await db.execute(
    sql`select 1 from oauth_redirects where app_id = ${appId} and url = ${url}`,
  );
  return result.rows.length === 1;
}

/** The return URL with the answer's parameters added (a code, or an error). */
export function returnUrl(redirectTo: string, params: Record<string, string>): string {
  const url = new URL(redirectTo);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}
