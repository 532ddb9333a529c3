/**
 * The /v1/auth route table. Each handler validates its input, calls one domain function
 * and shapes the answer; the work lives in src/auth.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { register } from "../auth/accounts";
import { changePassword, requestEmailToken, resetPassword, verifyEmail } from "../auth/email-flows";
import { endSessions } from "../auth/end-sessions";
import { login } from "../auth/login";
import { listSessions, refreshSession } from "../auth/sessions";
import { findUserForToken, toUserView } from "../auth/users";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { readJson, validate } from "../http/body";
import { authContext, countRefreshMiss, rateLimited, requireUser, verifyLiveToken } from "../http/middleware";

const email = z.pipe(z.string().check(z.trim(), z.maxLength(254)), z.email("must be an email address"));
const password = z.string("must be a string");
const opaqueToken = z.string().check(z.minLength(1), z.maxLength(512));
// Shown back to the user and to app backends; one line, no control or invisible format characters.
const NAME_MAX_CHARACTERS = 100;
const name = z.string().check(
  z.trim(),
  z.refine(
    (text) => [...text].length <= NAME_MAX_CHARACTERS,
    `must have at most ${NAME_MAX_CHARACTERS} characters`,
  ),
  z.regex(/^[^\p{C}\p{Zl}\p{Zp}]*$/u, "must be one line of printable characters"),
);

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
};

const NO_STORE = { "Cache-Control": "no-store" };
/** The same answer whether or not the email has an account. */
const ACCEPTED = { accepted: true } as const;

export const authRoutes = new Hono<AppEnv>()
  .post("/register", rateLimited, async (c) => {
    const input = await readJson(c.req.raw, schemas.register);
    return c.json(await register(authContext(c), input), 201, NO_STORE);
  })
  .post("/login", rateLimited, async (c) => {
    const input = await readJson(c.req.raw, schemas.login);
    return c.json(await login(authContext(c), input), 200, NO_STORE);
  })
  // Not a credential guess: budgeted per session (in the refresh statement), with only a
  // ceiling per network for tokens that match no session.
  .post("/refresh", async (c) => {
    const input = await readJson(c.req.raw, schemas.refresh);
    try {
      return c.json(await refreshSession(authContext(c), input.refreshToken), 200, NO_STORE);
    } catch (error) {
      if (error instanceof ApiError && error.code === "invalid_refresh_token") await countRefreshMiss(c);
      throw error;
    }
  })
  .post("/verify-email", rateLimited, async (c) => {
    const { token } = await readJson(c.req.raw, schemas.emailToken);
    return c.json({ user: await verifyEmail(authContext(c), token) }, 200, NO_STORE);
  })
  // Answered before any per-account work, so known and unknown addresses answer alike in time.
  .post("/resend-verification", rateLimited, async (c) => {
    const { email } = await readJson(c.req.raw, schemas.emailOnly);
    const ctx = authContext(c);
    c.var.deps.defer(() => requestEmailToken(ctx, email, "verify_email"));
    return c.json(ACCEPTED, 202, NO_STORE);
  })
  .post("/forgot-password", rateLimited, async (c) => {
    const { email } = await readJson(c.req.raw, schemas.emailOnly);
    const ctx = authContext(c);
    c.var.deps.defer(() => requestEmailToken(ctx, email, "reset_password"));
    return c.json(ACCEPTED, 202, NO_STORE);
  })
  .post("/reset-password", rateLimited, async (c) => {
    const input = await readJson(c.req.raw, schemas.resetPassword);
    return c.json({ user: await resetPassword(authContext(c), input.token, input.password) }, 200, NO_STORE);
  })
  .post("/change-password", rateLimited, requireUser, async (c) => {
    const input = await readJson(c.req.raw, schemas.changePassword);
    const { sub, sid } = c.var.claims;
    const user = await changePassword(authContext(c), { userId: sub, sessionId: sid }, input);
    return c.json({ user }, 200, NO_STORE);
  })
  .post("/logout", requireUser, async (c) => {
    // The body is optional and only validated: the session comes from the access token.
    if (c.req.header("content-type")) await readJson(c.req.raw, schemas.logout);
    const { claims } = c.var;
    await endSessions(authContext(c), {
      userId: claims.sub,
      sessionId: claims.sid,
      alsoRevoke: { jti: claims.jti, expiresAt: new Date(claims.exp * 1000) },
      event: "logout",
    });
    return c.body(null, 204, NO_STORE);
  })
  .post("/logout-all", requireUser, async (c) => {
    const { claims } = c.var;
    await endSessions(authContext(c), {
      userId: claims.sub,
      alsoRevoke: { jti: claims.jti, expiresAt: new Date(claims.exp * 1000) },
      event: "logout_all",
    });
    return c.body(null, 204, NO_STORE);
  })
  .post("/introspect", async (c) => {
    // RFC 7662 style, for app backends: anything not live for this app is just inactive.
    const { token } = await readJson(c.req.raw, schemas.introspect);
    try {
      const claims = await verifyLiveToken(c, token);
      return c.json({ active: true, ...claims }, 200, NO_STORE);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return c.json({ active: false }, 200, NO_STORE);
      throw error;
    }
  })
  .get("/me", requireUser, async (c) => {
    const found = await findUserForToken(c.var.deps.db, c.var.app.id, c.var.claims, c.var.deps.clock());
    if (!found) throw new ApiError("token_invalid");
    if (found.revoked) throw new ApiError("token_revoked");
    return c.json({ user: toUserView(found.user) }, 200, NO_STORE);
  })
  .get("/sessions", requireUser, async (c) => {
    const { claims } = c.var;
    const sessions = await listSessions(authContext(c), claims.sub, claims.sid);
    return c.json({ sessions }, 200, NO_STORE);
  })
  .delete("/sessions/:id", requireUser, async (c) => {
    const { id } = validate(schemas.sessionId, c.req.param());
    const ended = await endSessions(authContext(c), {
      userId: c.var.claims.sub,
      sessionId: id,
      event: "session_revoked",
    });
    if (ended === 0) throw new ApiError("not_found", "No such session");
    return c.body(null, 204, NO_STORE);
  });
