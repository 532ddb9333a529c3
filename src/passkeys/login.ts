/**
 * Passwordless sign-in with a passkey. Options name the user's passkeys when an email is given;
 * an email without passkeys (or without an account) gets a made-up credential id derived from
 * it, the same every time, so the answer does not tell whether the account exists.
 * The session says how: amr ["hwk"] for a device-bound passkey, ["swk"] for a synced one,
 * aal 2 when the authenticator verified the user (PIN, biometric), else 1. Without that
 * verification a passkey proves possession only, one factor: an account with a second factor
 * then gets `mfaRequired`, as after a password.
 */

import { createHmac } from "node:crypto";
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import { sql } from "drizzle-orm";
import { isDisabled, startSession } from "../auth/login";
import {
  hasSecondFactor,
  issueMfaChallenge,
  type MfaRequired,
  withoutSecondFactor,
} from "../auth/mfa-challenges";
import type { AuthContext, TokenResponse } from "../auth/session-context";
import { planIssue, type SignIn, tokenResponse } from "../auth/sessions";
import { normaliseEmail, userFromSql } from "../auth/users";
import { toBase64Url } from "../crypto/base64url";
import { ApiError } from "../errors";
import { type Assertion, assertionOptions, verifyAssertion } from "./assertion";

/** The RFC 8176 method a passkey proves: a device-bound key, or one synced between devices. */
export function passkeyMethod(assertion: Pick<Assertion, "deviceType">): "hwk" | "swk" {
  return assertion.deviceType === "singleDevice" ? "hwk" : "swk";
}

export function passkeySignIn(assertion: Assertion): SignIn {
  return { amr: [passkeyMethod(assertion)], aal: assertion.userVerified ? 2 : 1 };
}

export async function passkeyLoginOptions(
  ctx: AuthContext,
  input: { email?: string | undefined },
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  if (input.email === undefined) return assertionOptions(ctx, "login", null, []);
  const email = normaliseEmail(input.email);
  // One query whether or not the email has an account, so the work done is the same.
  const found = await ctx.db.execute(sql`
    select p.credential_id, p.transports from users u join passkeys p on p.user_id = u.id
    where u.email = ${email} and u.app_id = ${ctx.app.id} and p.app_id = ${ctx.app.id}
    order by p.created_at, p.id`);
  const allow = found.rows.map((row) => ({
    id: String(row.credential_id),
    transports: row.transports as string[],
  }));
  return assertionOptions(ctx, "login", null, allow.length > 0 ? allow : [decoyCredential(ctx, email)]);
}

export async function loginWithPasskey(
  ctx: AuthContext,
  response: AuthenticationResponseJSON,
): Promise<TokenResponse | MfaRequired> {
  const assertion = await verifyAssertion(ctx, response, "login", null);
  if ("failure" in assertion) throw new ApiError("passkey_invalid");
  const userId = assertion.passkey.userId;
  const signIn = passkeySignIn(assertion);
  const issue = planIssue(ctx, ctx.now, signIn);
  if (signIn.aal === 1) {
    const pending = await secondStepIfEnrolled(ctx, userId, signIn.amr);
    if (pending) return pending;
  }
  // Checked again in the statement that starts the session: a factor confirmed meanwhile
  // (which locks the user's row, share-locked here) is not skipped.
  const noSecondFactor = signIn.aal === 1 ? withoutSecondFactor(userId) : undefined;
  if (!(await startSession(ctx, userId, sql`true`, issue, undefined, noSecondFactor))) {
    if (await isDisabled(ctx, userId)) throw new ApiError("account_disabled");
    const pending = await secondStepIfEnrolled(ctx, userId, signIn.amr);
    if (pending) return pending;
    throw new ApiError("passkey_invalid");
  }
  const user = await ctx.db.execute(sql`
    select id, app_id, email, email_verified, name, created_at from users where id = ${userId}::uuid`);
  return tokenResponse(ctx, userFromSql(user.rows[0] ?? {}), issue);
}

/** The second step of a sign-in, for a user with a confirmed second factor; else undefined. */
async function secondStepIfEnrolled(
  ctx: AuthContext,
  userId: string,
  amr: string[],
): Promise<MfaRequired | undefined> {
  const found = await ctx.db.execute(sql`
    select password_hash from users u
    where id = ${userId}::uuid and app_id = ${ctx.app.id} and disabled_at is null
      and ${hasSecondFactor(sql`u.id`)}`);
  const row = found.rows[0];
  return row ? issueMfaChallenge(ctx, userId, String(row.password_hash), amr) : undefined;
}

/** A stable, made-up credential for an email with no passkey (keyed, so it cannot be predicted). */
function decoyCredential(ctx: AuthContext, email: string): { id: string; transports: string[] } {
  const mac = createHmac("sha256", `passkey-decoy:${ctx.config.jwtSecret}`)
    .update(`${ctx.app.id}\n${email}`)
    .digest();
  return { id: toBase64Url(new Uint8Array(mac)), transports: ["hybrid", "internal"] };
}
