/**
 * When a mailbox proves an unverified account's address (verification link, password reset, a
 * password sign-up replacing the pending account), the identities whose provider never vouched
 * for that address are removed: they may belong to whoever typed the address at the provider,
 * and must not enter the account its real owner now holds.
 */
import { type SQL, sql } from "drizzle-orm";

/** A CTE body deleting those identities of the users `userIds` selects (read before the update). */
export function dropUnvouchedIdentities(userIds: SQL): SQL {
  return sql`delete from identities i using users u
    where u.id = i.user_id and u.id in (${userIds}) and not u.email_verified and not i.email_verified`;
}
