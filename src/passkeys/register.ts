/**
 * Adding a passkey for a signed-in user: creation options (the user's existing passkeys are
 * excluded, so one authenticator is not registered twice), then the authenticator's response,
 * checked against the challenge, the app's origins and RP ID. Attestation is not asked for:
 * which authenticator made the key does not change what it proves.
 */
import {
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { fromBase64Url, toBase64Url } from "../crypto/base64url";
import { ApiError } from "../errors";
import { challengeOf, issueChallenge, PASSKEY_CHALLENGE_TTL_SECONDS, spendChallenge } from "./challenges";
import { credentialsOf, PASSKEY_VIEW_COLUMNS, type PasskeyView, passkeyFromSql } from "./credentials";
import { auditPasskeyFailure, type PasskeyContext, relyingPartyOf, SUPPORTED_ALGORITHMS } from "./shared";

export const DEFAULT_PASSKEY_NAME = "Passkey";

export async function registrationOptions(
  ctx: PasskeyContext,
  userId: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const found = await ctx.db.execute(sql`
    select email, name from users where id = ${userId}::uuid and app_id = ${ctx.app.id}`);
  const user = found.rows[0];
  if (!user) throw new ApiError("token_invalid");
  const rp = relyingPartyOf(ctx);
  const challenge = await issueChallenge(ctx, "register", userId);
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: String(user.email),
    userDisplayName: String(user.name ?? user.email),
    // The user handle: the user's id, which an authenticator hands back at a passwordless sign-in.
    userID: new Uint8Array(new TextEncoder().encode(userId)),
    challenge: new Uint8Array(fromBase64Url(challenge)),
    timeout: PASSKEY_CHALLENGE_TTL_SECONDS * 1000,
    attestationType: "none",
    excludeCredentials: await credentialsOf(ctx.db, ctx.app.id, userId),
    authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
    supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
  });
}

/** Verifies the authenticator's response and stores the passkey, audited as passkey_registered. */
export async function registerPasskey(
  ctx: PasskeyContext,
  userId: string,
  input: { response: RegistrationResponseJSON; name?: string | undefined },
): Promise<PasskeyView> {
  const challenge = challengeOf(input.response.response.clientDataJSON);
  if (!challenge || !(await spendChallenge(ctx, "register", userId, challenge))) {
    return refuse(ctx, userId, "challenge");
  }
  const verified = await checkAttestation(ctx, input.response, challenge);
  if (!verified) return refuse(ctx, userId, "verification_failed");
  const stored = await storePasskey(ctx, userId, verified, input.name || DEFAULT_PASSKEY_NAME);
  // The credential id is taken in this app: excludeCredentials should have stopped the browser.
  return stored ?? refuse(ctx, userId, "already_registered");
}

type Registration = Extract<Awaited<ReturnType<typeof verifyRegistrationResponse>>, { verified: true }>;

async function checkAttestation(
  ctx: PasskeyContext,
  response: RegistrationResponseJSON,
  challenge: string,
): Promise<Registration["registrationInfo"] | undefined> {
  const rp = relyingPartyOf(ctx);
  try {
    const verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserVerification: false,
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
    return verified.verified ? verified.registrationInfo : undefined;
  } catch {
    return undefined;
  }
}

async function storePasskey(
  ctx: PasskeyContext,
  userId: string,
  info: Registration["registrationInfo"],
  name: string,
): Promise<PasskeyView | undefined> {
  const { credential } = info;
  const transports = sql.join(
    (credential.transports ?? []).map((transport) => sql`${transport}`),
    sql`, `,
  );
  const details = sql`jsonb_build_object('passkeyId', id, 'name', name, 'deviceType', device_type)`;
  const stored = await ctx.db.execute(sql`
    with saved as (
      insert into passkeys (app_id, user_id, credential_id, public_key, counter, transports, device_type,
        backed_up, name, created_at)
      select app_id, id, ${credential.id}, ${toBase64Url(credential.publicKey)}, ${credential.counter},
        array[${transports}]::text[], ${info.credentialDeviceType}, ${info.credentialBackedUp}, ${name}, ${ctx.now}
      from users where id = ${userId}::uuid and app_id = ${ctx.app.id}
      on conflict (app_id, credential_id) do nothing
      returning ${PASSKEY_VIEW_COLUMNS}, user_id
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("passkey_registered", ctx.app.id, sql`user_id`, ctx.client, ctx.now, details)}
      from saved
    )
    select ${PASSKEY_VIEW_COLUMNS} from saved`);
  const row = stored.rows[0];
  return row ? passkeyFromSql(row) : undefined;
}

async function refuse(ctx: PasskeyContext, userId: string, reason: string): Promise<never> {
  await auditPasskeyFailure(ctx, userId, { purpose: "register", reason });
  throw new ApiError("passkey_invalid");
}
