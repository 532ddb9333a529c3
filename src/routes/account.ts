/**
 * The /v1/auth routes about the account itself: moving it to another address, deleting it
 * and exporting what Turkey holds about it. Each asks for the password again where the change
 * cannot be undone by the user (email, deletion); the work lives in src/auth.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { confirmEmailChange, requestEmailChange } from "../auth/change-email";
import { verifyCurrentPassword } from "../auth/current-password";
import { deleteUser } from "../auth/delete-user";
import { requestDeletionCode, verifyDeletionCode } from "../auth/email-login";
import { publishEnded } from "../auth/end-sessions";
import { exportUser } from "../auth/export-user";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { endpoint } from "../http/contract";
import { authContext, rateLimited, requireUser } from "../http/middleware";
import { accepted, accountExport, userEnvelope } from "../http/schemas";
import { email, opaqueToken, password } from "./fields";

const schemas = {
  changeEmail: z.object({ newEmail: email, password }),
  confirmEmail: z.object({ token: opaqueToken }),
  deleteAccount: z.union([
    z.strictObject({ password }),
    z.strictObject({
      code: z
        .string()
        .check(
          z.regex(/^\d{6}$/, "must be the 6-digit code"),
          z.meta({ description: "The 6 digits mailed by `POST /v1/auth/account/deletion-code`." }),
        ),
    }),
  ]),
};

const NO_STORE = { "Cache-Control": "no-store" };
const PASSWORD_ERRORS = ["invalid_credentials", "too_many_attempts", "temporarily_unavailable"] as const;

export const accountRoutes = new Hono<AppEnv>()
  .post(
    "/change-email",
    rateLimited,
    requireUser,
    endpoint({
      summary: "Ask to move the account to another email address",
      description:
        "Mails a confirmation link to the new address and a notice to the current one; nothing changes until the link is followed. Whether the new address is taken is only told by the confirmation.",
      body: schemas.changeEmail,
      responses: { 202: accepted },
      errors: PASSWORD_ERRORS,
    }),
    async (c) => {
      const { sub, sid } = c.var.claims;
      await requestEmailChange(authContext(c), { userId: sub, sessionId: sid }, c.req.valid("json"));
      return c.json({ accepted: true } as const, 202, NO_STORE);
    },
  )
  .post(
    "/confirm-email",
    rateLimited,
    endpoint({
      summary: "Confirm a new email address with the mailed token",
      description:
        "Moves the account to the new address (then verified) unless another account of the app has it; ends every session but the one that asked.",
      body: schemas.confirmEmail,
      responses: { 200: userEnvelope },
      errors: ["invalid_token", "email_taken"],
    }),
    async (c) =>
      c.json({ user: await confirmEmailChange(authContext(c), c.req.valid("json").token) }, 200, NO_STORE),
  )
  .post(
    "/account/deletion-code",
    rateLimited,
    requireUser,
    endpoint({
      summary: "Mail a code that confirms deleting the account",
      description:
        "For users who sign in without a password (by email code or link): mails a 6-digit code, valid 10 minutes, to the account's address, for `DELETE /v1/auth/account {code}`. At most one mail a minute.",
      responses: { 202: accepted },
    }),
    async (c) => {
      const ctx = authContext(c);
      const userId = c.var.claims.sub;
      c.var.deps.defer(() => requestDeletionCode(ctx, userId));
      return c.json({ accepted: true } as const, 202, NO_STORE);
    },
  )
  .delete(
    "/account",
    rateLimited,
    requireUser,
    endpoint({
      summary: "Delete the account",
      description:
        "Revokes every live access token, then deletes the user and everything keyed to it in this app. The audit keeps the user's id only. " +
        "Proven with the password, or with a code from `POST /v1/auth/account/deletion-code` (five wrong codes spend it; each counts towards the account's lockout).",
      body: schemas.deleteAccount,
      responses: { 204: null },
      errors: [...PASSWORD_ERRORS, "invalid_code"],
    }),
    async (c) => {
      const ctx = authContext(c);
      const proof = c.req.valid("json");
      const userId = c.var.claims.sub;
      if ("code" in proof) await verifyDeletionCode(ctx, userId, proof.code);
      else await verifyCurrentPassword(ctx, userId, proof.password, "delete_account");
      const deleted = await deleteUser(ctx.db, ctx.app.id, userId, "user_request", {
        client: ctx.client,
        now: ctx.now,
      });
      if (deleted) {
        await publishEnded(ctx, { sessions: 0, tokens: deleted.revoked });
        await ctx.clearAttempts?.(deleted.email);
      }
      return c.body(null, 204, NO_STORE);
    },
  )
  .get(
    "/account/export",
    requireUser,
    endpoint({
      summary: "Download everything Turkey holds about the user",
      description: "Profile, sessions on record (with IP and user agent) and audit events, as a JSON file.",
      responses: { 200: accountExport },
      headers: ["contentDisposition"],
      errors: ["token_invalid"],
    }),
    async (c) => {
      const { deps, app, claims } = c.var;
      const document = await exportUser(deps.db, app.id, claims.sub, deps.clock());
      if (!document) throw new ApiError("token_invalid");
      return c.json(document, 200, {
        ...NO_STORE,
        "Content-Disposition": `attachment; filename="${exportFileName(app.id)}"`,
      });
    },
  );

/** App ids are [A-Za-z0-9._-], so the name needs no quoting. */
function exportFileName(appId: string): string {
  return `${appId}-account.json`;
}
