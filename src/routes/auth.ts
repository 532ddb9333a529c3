/**
 * The /v1/auth route table. Each route declares its contract (`endpoint`: input schemas,
 * answers, error codes), which validates the request and becomes the OpenAPI document; the
 * handler calls one domain function and shapes the answer. The work lives in src/auth.
 */
import { type Context, Hono } from "hono";
import * as z from "zod/mini";
import type { AccessClaims } from "../auth/access-tokens";
import { register } from "../auth/accounts";
import { changePassword, requestEmailToken, resetPassword, verifyEmail } from "../auth/email-flows";
import { endSessions } from "../auth/end-sessions";
import { login } from "../auth/login";
import { listSessions, refreshSession } from "../auth/sessions";
import { findUserForToken, toUserView } from "../auth/users";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { isFormRequest } from "../http/body";
import { endpoint } from "../http/contract";
import {
  authContext,
  authenticateAppKey,
  countRefreshMiss,
  rateLimited,
  requireUser,
  verifyLiveToken,
} from "../http/middleware";
import {
  accepted,
  introspection,
  mfaRequired,
  registration,
  rfcIntrospection,
  sessions,
  tokens,
  userEnvelope,
} from "../http/schemas";

import { email, name, opaqueToken, password } from "./fields";

const schemas = {
  register: z.object({ email, password, name: z.optional(name) }),
  login: z.object({ email, password }),
  refresh: z.object({ refreshToken: opaqueToken }),
  logout: z.object({ refreshToken: z.optional(opaqueToken) }),
  sessionId: z.object({ id: z.uuid("must be a session id") }),
  // No length limit here: the body limit caps it, and any oversized token is simply inactive.
  emailToken: z.object({ token: opaqueToken }),
  emailOnly: z.object({ email }),
  resetPassword: z.object({ token: opaqueToken, password }),
  changePassword: z.object({ currentPassword: password, newPassword: password }),
  introspect: z.object({ token: z.string() }),
  introspectForm: z.object({
    token: z.string(),
    token_type_hint: z.optional(z.string().check(z.maxLength(64))),
  }),
};

/** The claims of a token live for the calling app, or undefined (inactive, whatever the reason). */
async function liveClaims(c: Context<AppEnv>, token: string): Promise<AccessClaims | undefined> {
  try {
    return await verifyLiveToken(c, token);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    throw error;
  }
}

/** RFC 7662 §2.2's members, and no others: `client_id` is the app the token was issued to. */
function rfc7662Claims(claims: AccessClaims) {
  const { iss, sub, aud, iat, exp, jti, amr, aal } = claims;
  return { client_id: aud, token_type: "Bearer" as const, exp, iat, sub, aud, iss, jti, amr, aal };
}

const NO_STORE = { "Cache-Control": "no-store" };
/** The same answer whether or not the email has an account. */
const ACCEPTED = { accepted: true } as const;

export const authRoutes = new Hono<AppEnv>()
  .post(
    "/register",
    rateLimited,
    endpoint({
      summary: "Create an account",
      description:
        "Tokens only when email verification is not required; a verification email is always sent.",
      body: schemas.register,
      responses: { 201: registration },
      errors: ["email_taken"],
    }),
    async (c) => c.json(await register(authContext(c), c.req.valid("json")), 201, NO_STORE),
  )
  .post(
    "/login",
    rateLimited,
    endpoint({
      summary: "Sign in with email and password",
      description:
        "An unknown email and a wrong password get the same answer, in the same time. With a second " +
        "factor enabled, a right password answers `mfaRequired` and an mfaToken instead of tokens.",
      body: schemas.login,
      responses: { 200: z.union([tokens, mfaRequired]) },
      errors: [
        "invalid_credentials",
        "email_not_verified",
        "account_disabled",
        "too_many_attempts",
        "temporarily_unavailable",
      ],
    }),
    async (c) => c.json(await login(authContext(c), c.req.valid("json")), 200, NO_STORE),
  )
  // Not a credential guess: budgeted per session (in the refresh statement), with only a
  // ceiling per network for tokens that match no session.
  .post(
    "/refresh",
    endpoint({
      summary: "Exchange a refresh token for a new pair",
      description: "Rotates: reusing a spent refresh token (past a short grace) ends the whole session.",
      body: schemas.refresh,
      responses: { 200: tokens },
      errors: [
        "invalid_refresh_token",
        "refresh_token_expired",
        "refresh_token_reused",
        "account_disabled",
        "rate_limited",
      ],
    }),
    async (c) => {
      try {
        return c.json(await refreshSession(authContext(c), c.req.valid("json").refreshToken), 200, NO_STORE);
      } catch (error) {
        if (error instanceof ApiError && error.code === "invalid_refresh_token") await countRefreshMiss(c);
        throw error;
      }
    },
  )
  .post(
    "/verify-email",
    rateLimited,
    endpoint({
      summary: "Confirm an email address with the mailed token",
      body: schemas.emailToken,
      responses: { 200: userEnvelope },
      errors: ["invalid_token", "account_disabled"],
    }),
    async (c) =>
      c.json({ user: await verifyEmail(authContext(c), c.req.valid("json").token) }, 200, NO_STORE),
  )
  // Answered before any per-account work, so known and unknown addresses answer alike in time.
  .post(
    "/resend-verification",
    rateLimited,
    endpoint({
      summary: "Mail a new verification link",
      description: "The same answer whether or not the email has an account.",
      body: schemas.emailOnly,
      responses: { 202: accepted },
    }),
    async (c) => {
      const ctx = authContext(c);
      const { email } = c.req.valid("json");
      c.var.deps.defer(() => requestEmailToken(ctx, email, "verify_email"));
      return c.json(ACCEPTED, 202, NO_STORE);
    },
  )
  .post(
    "/forgot-password",
    rateLimited,
    endpoint({
      summary: "Mail a password-reset link",
      description: "The same answer whether or not the email has an account.",
      body: schemas.emailOnly,
      responses: { 202: accepted },
    }),
    async (c) => {
      const ctx = authContext(c);
      const { email } = c.req.valid("json");
      c.var.deps.defer(() => requestEmailToken(ctx, email, "reset_password"));
      return c.json(ACCEPTED, 202, NO_STORE);
    },
  )
  .post(
    "/reset-password",
    rateLimited,
    endpoint({
      summary: "Set a new password with the mailed token",
      description: "Ends every session and live access token of the user.",
      body: schemas.resetPassword,
      responses: { 200: userEnvelope },
      errors: ["invalid_token", "account_disabled"],
    }),
    async (c) => {
      const input = c.req.valid("json");
      return c.json(
        { user: await resetPassword(authContext(c), input.token, input.password) },
        200,
        NO_STORE,
      );
    },
  )
  .post(
    "/change-password",
    rateLimited,
    requireUser,
    endpoint({
      summary: "Change the password",
      description:
        "Ends the user's other sessions. Wrong current passwords count towards the account's lockout.",
      body: schemas.changePassword,
      responses: { 200: userEnvelope },
      errors: ["invalid_credentials", "too_many_attempts", "temporarily_unavailable"],
    }),
    async (c) => {
      const { sub, sid } = c.var.claims;
      const user = await changePassword(authContext(c), { userId: sub, sessionId: sid }, c.req.valid("json"));
      return c.json({ user }, 200, NO_STORE);
    },
  )
  .post(
    "/logout",
    requireUser,
    endpoint({
      summary: "End this session",
      description:
        "Revokes this access token and its session, which come from the token; the body is optional.",
      body: schemas.logout,
      bodyOptional: true,
      responses: { 204: null },
    }),
    async (c) => {
      const { claims } = c.var;
      await endSessions(authContext(c), {
        userId: claims.sub,
        sessionId: claims.sid,
        alsoRevoke: { jti: claims.jti, expiresAt: new Date(claims.exp * 1000) },
        event: "logout",
      });
      return c.body(null, 204, NO_STORE);
    },
  )
  .post(
    "/logout-all",
    requireUser,
    endpoint({
      summary: "End every session of the user in this app",
      description: "Also revokes every live access token of the user in this app.",
      responses: { 204: null },
    }),
    async (c) => {
      const { claims } = c.var;
      await endSessions(authContext(c), {
        userId: claims.sub,
        alsoRevoke: { jti: claims.jti, expiresAt: new Date(claims.exp * 1000) },
        event: "logout_all",
      });
      return c.body(null, 204, NO_STORE);
    },
  )
  .post(
    "/introspect",
    endpoint({
      summary: "Ask whether an access token is live (for app backends)",
      description:
        "RFC 7662: send `token` (and optionally `token_type_hint`) form-encoded, authenticated with an app key (Bearer or HTTP Basic); the answer has exactly RFC 7662's members. " +
        "Legacy: a JSON body `{token}` with only X-App-Id is still answered, with Turkey's own claims. Either way, anything not live for the app is just `active: false`.",
      body: schemas.introspect,
      form: schemas.introspectForm,
      responses: { 200: z.union([rfcIntrospection, introspection]) },
      security: "appKeyOrAppId",
      errors: ["app_key_required", "invalid_app_key", "rate_limited"],
    }),
    async (c) => {
      const standard = isFormRequest(c.req.raw);
      // A key, when one is sent, must be valid, even on the legacy form.
      if (standard || c.req.header("authorization")) await authenticateAppKey(c);
      const token = standard ? c.req.valid("form").token : c.req.valid("json").token;
      const claims = await liveClaims(c, token);
      if (!claims) return c.json({ active: false }, 200, NO_STORE);
      return c.json({ active: true, ...(standard ? rfc7662Claims(claims) : claims) }, 200, NO_STORE);
    },
  )
  .get(
    "/me",
    requireUser,
    endpoint({ summary: "The signed-in user", responses: { 200: userEnvelope } }),
    async (c) => {
      const found = await findUserForToken(c.var.deps.db, c.var.app.id, c.var.claims, c.var.deps.clock());
      if (!found) throw new ApiError("token_invalid");
      if (found.revoked) throw new ApiError("token_revoked");
      return c.json({ user: toUserView(found.user) }, 200, NO_STORE);
    },
  )
  .get(
    "/sessions",
    requireUser,
    endpoint({ summary: "The user's live sessions in this app", responses: { 200: sessions } }),
    async (c) => {
      const { claims } = c.var;
      return c.json({ sessions: await listSessions(authContext(c), claims.sub, claims.sid) }, 200, NO_STORE);
    },
  )
  .delete(
    "/sessions/:id",
    requireUser,
    endpoint({
      summary: "End one of the user's sessions",
      params: schemas.sessionId,
      responses: { 204: null },
      errors: ["not_found"],
    }),
    async (c) => {
      const ended = await endSessions(authContext(c), {
        userId: c.var.claims.sub,
        sessionId: c.req.valid("param").id,
        event: "session_revoked",
      });
      if (ended === 0) throw new ApiError("not_found", "No such session");
      return c.body(null, 204, NO_STORE);
    },
  );
