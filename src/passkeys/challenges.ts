/**
 * WebAuthn challenges: 256 random bits handed out with the options, stored only as a hash,
 * bound to the app, the purpose and (except for a passwordless sign-in) the user, valid
 * PASSKEY_CHALLENGE_TTL_SECONDS, and spent by one conditional UPDATE before the response is
 * checked, so two requests with the same challenge can never both get past it.
 */
import { sql } from "drizzle-orm";
import { generateSecretToken, hashSecretToken } from "../auth/secrets";
import type { AuthContext } from "../auth/session-context";
import { fromBase64Url } from "../crypto/base64url";

export const PASSKEY_CHALLENGE_TTL_SECONDS = 300;

export type ChallengePurpose = "register" | "login" | "mfa";

type ChallengeContext = Pick<AuthContext, "db" | "app" | "now">;

/** A fresh challenge (base64url) for `purpose`, remembered as its hash. */
export async function issueChallenge(
  ctx: ChallengeContext,
  purpose: ChallengePurpose,
  userId: string | null,
): Promise<string> {
  const challenge = generateSecretToken();
  const expiresAt = new Date(ctx.now.getTime() + PASSKEY_CHALLENGE_TTL_SECONDS * 1000);
  await ctx.db.execute(sql`
    insert into passkey_challenges (app_id, user_id, purpose, challenge_hash, created_at, expires_at)
    values (${ctx.app.id}, ${userId}::uuid, ${purpose}, ${hashSecretToken(challenge)}, ${ctx.now}, ${expiresAt})`);
  return challenge;
}

/** Spends the challenge if it is live and was issued for this app, purpose and user. */
export async function spendChallenge(
  ctx: ChallengeContext,
  purpose: ChallengePurpose,
  userId: string | null,
  challenge: string,
): Promise<boolean> {
  const result = await ctx.db.execute(sql`
    update passkey_challenges set used_at = ${ctx.now}
    where challenge_hash = ${hashSecretToken(challenge)} and app_id = ${ctx.app.id}
      and purpose = ${purpose} and user_id is not distinct from ${userId}::uuid
      and used_at is null and expires_at > ${ctx.now}
    returning id`);
  return result.rows.length === 1;
}

/** The challenge a WebAuthn response signed, read from its clientDataJSON; undefined if unreadable. */
export function challengeOf(clientDataJson: string): string | undefined {
  try {
    const text = new TextDecoder().decode(fromBase64Url(clientDataJson));
    const parsed: unknown = JSON.parse(text);
    const challenge = (parsed as { challenge?: unknown }).challenge;
    return typeof challenge === "string" ? challenge : undefined;
  } catch {
    return undefined;
  }
}
