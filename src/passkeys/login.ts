/**
 * Passwordless sign-in with a passkey. Options name the user's passkeys when an email is given;
 * an email without passkeys (or without an account) gets a made-up credential id derived from
 * it, the same every time, so the answer does not tell whether the account exists.
 * The session says how: amr ["hwk"] for a device-bound passkey, ["swk"] for a synced one,
 * aal 2 when the authenticator verified the user (PIN, biometric), else 1.
 */

import { createHmac } from "node:crypto";
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from "@simplewebauthn/server";
import { sql } from "drizzle-orm";
import { isDisabled, startSession } from "../auth/login";
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
): Promise<TokenResponse> {
  const assertion = await verifyAssertion(ctx, response, "login", null);
  if ("failure" in assertion) throw new ApiError("passkey_invalid");
  const userId = assertion.passkey.userId;
  const issue = planIssue(ctx, ctx.now, passkeySignIn(assertion));
  if (!(await startSession(ctx, userId, sql`true`, issue))) {
    throw new ApiError((await isDisabled(ctx, userId)) ? "account_disabled" : "passkey_invalid");
  }
  const user = await ctx.db.execute(sql`
    select id, app_id, email, email_verified, name, created_at from users where id = ${userId}::uuid`);
  return tokenResponse(ctx, userFromSql(user.rows[0] ?? {}), issue);
}

/** A stable, made-up credential for an email with no passkey (keyed, so it cannot be predicted). */
function decoyCredential(ctx: AuthContext, email: string): { id: string; transports: string[] } {
  const mac = createHmac("sha256", `passkey-decoy:${ctx.config.jwtSecret}`)
    .update(`${ctx.app.id}\n${email}`)
    .digest();
  return { id: toBase64Url(new Uint8Array(mac)), transports: ["hybrid", "internal"] };
}
