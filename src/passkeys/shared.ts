/** What the passkey flows share: their context, the relying party, the algorithms, failure audits. */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import type { AuthContext } from "../auth/session-context";
import { type RelyingParty, relyingParty } from "./relying-party";

export type PasskeyContext = Pick<AuthContext, "db" | "config" | "app" | "client" | "now">;

/** EdDSA, ES256, RS256: what authenticators make, and what WebCrypto on Workers verifies. */
export const SUPPORTED_ALGORITHMS = [-8, -7, -257];

export function relyingPartyOf(ctx: Pick<PasskeyContext, "app" | "config">): RelyingParty {
  return relyingParty(ctx.app, ctx.config.allowedOrigins);
}

export async function auditPasskeyFailure(
  ctx: PasskeyContext,
  userId: string | null,
  details: { purpose: string; reason: string },
): Promise<void> {
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues("passkey_failed", ctx.app.id, userId, ctx.client, ctx.now, details)})`);
}
