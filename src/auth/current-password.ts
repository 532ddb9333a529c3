/**
 * The signed-in user's password, asked again before an account-wide change (email, deletion).
 * A wrong password counts against the account exactly like a failed login.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { ApiError } from "../errors";
import { checkPasswordPolicy, hashingPolicy, verifyAgainstDummy, verifyPassword } from "./passwords";
import type { AuthContext } from "./session-context";
import { type UserRow, userFromSql } from "./users";

/** What the password unlocks; recorded with a failed check. */
export type PasswordCheckAction = "change_email" | "delete_account";

export async function verifyCurrentPassword(
  ctx: AuthContext,
  userId: string,
  password: string,
  action: PasswordCheckAction,
): Promise<UserRow> {
  checkPasswordPolicy(password, 1, "password");
  const found = await ctx.db.execute(sql`
    select id, app_id, email, email_verified, name, created_at, password_hash from users
    where id = ${userId}::uuid and app_id = ${ctx.app.id}`);
  const row = found.rows[0];
  const policy = hashingPolicy(ctx.config);
  if (!row) {
    // The token outlived its user: the same work, the same answer.
    await verifyAgainstDummy(password, policy);
    throw new ApiError("invalid_credentials");
  }
  const user = userFromSql(row);
  const attempt = await ctx.attempts?.(user.email)(ctx.now.getTime());
  const { ok } = await verifyPassword(password, String(row.password_hash), policy);
  const settled = await attempt?.settle(ok);
  if (ok) return user;
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues("password_check_failed", ctx.app.id, user.id, ctx.client, ctx.now, {
      action,
      lockedNow: settled?.lockedNow ?? false,
    })})`);
  throw new ApiError("invalid_credentials");
}
