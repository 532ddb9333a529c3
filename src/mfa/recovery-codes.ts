/**
 * Recovery codes: ten single-use codes shown once when a second factor is enabled, stored only
 * as hashes. Each has 80 random bits, so (like refresh tokens) a fast hash is enough; a guess
 * is still counted by the account's attempt limit like a wrong TOTP code.
 */
import { type SQL, sql } from "drizzle-orm";
import { hashSecretToken } from "../auth/secrets";
import { toBase32 } from "./totp";

export const RECOVERY_CODE_COUNT = 10;
const CODE_BYTES = 10;

/** Ten fresh codes, formatted `xxxx-xxxx-xxxx-xxxx` (base32, lower case). */
export function generateRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const code = toBase32(crypto.getRandomValues(new Uint8Array(CODE_BYTES))).toLowerCase();
    return code.match(/.{4}/g)?.join("-") ?? code;
  });
}

/** Typing slips forgiven: case, spaces and dashes do not matter. */
export function hashRecoveryCode(code: string): string {
  return hashSecretToken(code.replace(/[\s-]/g, "").toLowerCase());
}

/** Replaces the user's codes with `codes` (their hashes). */
export function replaceRecoveryCodes(appId: string, userId: string, codes: string[], now: Date): SQL {
  const rows = sql.join(
    codes.map((code) => sql`(${appId}, ${userId}::uuid, ${hashRecoveryCode(code)}, ${now})`),
    sql`, `,
  );
  return sql`
    with dropped as (delete from recovery_codes where app_id = ${appId} and user_id = ${userId}::uuid)
    insert into recovery_codes (app_id, user_id, code_hash, created_at) values ${rows}`;
}

/** Spends one unused code of the user; returns a row only if it was live (single-use, atomically). */
export function spendRecoveryCode(appId: string, userId: string, code: string, now: Date): SQL {
  return sql`
    update recovery_codes set used_at = ${now}
    where app_id = ${appId} and user_id = ${userId}::uuid and code_hash = ${hashRecoveryCode(code)}
      and used_at is null
    returning id`;
}
