/**
 * The /v1/auth/mfa route table: the second step of a sign-in, and the user's own TOTP factor
 * (enrol, confirm, list, remove). The work lives in src/mfa.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../context";
import { endpoint } from "../http/contract";
import { authContext, rateLimited, requireUser } from "../http/middleware";
import { factors, passkeyRequestOptions, recoveryCodes, tokens, totpEnrollment } from "../http/schemas";
import { disableTotp } from "../mfa/disable";
import { confirmTotp, enrollTotp, listFactors } from "../mfa/factors";
import { mfaPasskeyOptions, type SecondStep, verifyMfa } from "../mfa/verify";
import { authenticationResponse } from "./passkey-fields";

const code = z
  .string()
  .check(z.regex(/^\d{6}$/, "must be 6 digits"), z.meta({ description: "The current 6-digit TOTP code." }));
const recoveryCode = z
  .string()
  .check(z.minLength(1), z.maxLength(64), z.meta({ description: "One of the recovery codes; works once." }));
const mfaToken = z.string().check(z.minLength(1), z.maxLength(512));
const password = z.string().check(z.maxLength(1024));

const schemas = {
  verify: z.union([
    z.object({ mfaToken, code }),
    z.object({ mfaToken, recoveryCode }),
    z.object({ mfaToken, passkey: authenticationResponse }),
  ]),
  passkeyOptions: z.object({ mfaToken }),
  confirm: z.object({ code }),
  disable: z.union([z.object({ password, code }), z.object({ password, recoveryCode })]),
};

const NO_STORE = { "Cache-Control": "no-store" };

export const mfaRoutes = new Hono<AppEnv>()
  .post(
    "/verify",
    rateLimited,
    endpoint({
      summary: "Complete a sign-in with a second factor",
      description:
        "The mfaToken from login plus a TOTP code, a recovery code, or a passkey's signed response " +
        "(to options from /v1/auth/mfa/passkey/options). At most 5 tries per mfaToken; wrong ones " +
        "count towards the account's lockout.",
      body: schemas.verify,
      responses: { 200: tokens },
      errors: [
        "mfa_token_invalid",
        "invalid_mfa_code",
        "passkey_invalid",
        "account_disabled",
        "too_many_attempts",
        "temporarily_unavailable",
      ],
    }),
    async (c) => {
      const input = c.req.valid("json") as { mfaToken: string } & SecondStep;
      return c.json(await verifyMfa(authContext(c), input), 200, NO_STORE);
    },
  )
  .post(
    "/passkey/options",
    rateLimited,
    endpoint({
      summary: "Passkey options for the second step of a sign-in",
      description:
        "Request options naming the passkeys of the user the mfaToken is for; sign them and send the " +
        "response to /v1/auth/mfa/verify as `passkey`.",
      body: schemas.passkeyOptions,
      responses: { 200: passkeyRequestOptions },
      errors: ["mfa_token_invalid", "mfa_not_enrolled"],
    }),
    async (c) => c.json(await mfaPasskeyOptions(authContext(c), c.req.valid("json").mfaToken), 200, NO_STORE),
  )
  .get(
    "/",
    requireUser,
    endpoint({ summary: "The user's second factors", responses: { 200: factors } }),
    async (c) => c.json(await listFactors(c.var.deps.db, c.var.app.id, c.var.claims.sub), 200, NO_STORE),
  )
  .post(
    "/totp/enroll",
    requireUser,
    endpoint({
      summary: "Start TOTP enrolment",
      description:
        "Answers a new secret and its otpauth:// URI; the factor stays pending until confirmed. " +
        "Starting again replaces a pending secret.",
      responses: { 200: totpEnrollment },
      errors: ["mfa_already_enabled"],
    }),
    async (c) => c.json(await enrollTotp(authContext(c), c.var.claims.sub), 200, NO_STORE),
  )
  .post(
    "/totp/confirm",
    rateLimited,
    requireUser,
    endpoint({
      summary: "Activate TOTP with a first code",
      description: "Answers 10 recovery codes, shown once. Ends the user's other sessions.",
      body: schemas.confirm,
      responses: { 200: recoveryCodes },
      errors: ["invalid_mfa_code", "mfa_not_enrolled", "mfa_already_enabled"],
    }),
    async (c) => {
      const { sub, sid } = c.var.claims;
      const answer = await confirmTotp(
        authContext(c),
        { userId: sub, sessionId: sid },
        c.req.valid("json").code,
      );
      return c.json(answer, 200, NO_STORE);
    },
  )
  .delete(
    "/totp",
    rateLimited,
    requireUser,
    endpoint({
      summary: "Remove TOTP (and the recovery codes)",
      description:
        "Needs the password and a current code or a recovery code. Wrong ones count towards the lockout.",
      body: schemas.disable,
      responses: { 204: null },
      errors: [
        "mfa_not_enrolled",
        "invalid_credentials",
        "invalid_mfa_code",
        "too_many_attempts",
        "temporarily_unavailable",
      ],
    }),
    async (c) => {
      await disableTotp(authContext(c), c.var.claims.sub, c.req.valid("json"));
      return c.body(null, 204, NO_STORE);
    },
  );
