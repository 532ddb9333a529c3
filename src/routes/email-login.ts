/**
 * The /v1/auth routes of sign-in by email (passwordless), for apps that turned it on
 * (`gravy app set <appId> --email-login on`). The work lives in src/auth/email-login.ts.
 */
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import * as z from "zod/mini";
import { requestEmailLogin, verifyEmailLogin } from "../auth/email-login";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { documented, endpoint } from "../http/contract";
import { authContext, rateLimited } from "../http/middleware";
import { accepted, mfaRequired, tokens } from "../http/schemas";
import { codeChallenge, email, opaqueToken } from "./fields";

const code = z
  .string()
  .check(z.regex(/^\d{6}$/, "must be the 6-digit code"), z.meta({ description: "The 6 digits mailed." }));

const schemas = {
  request: z.object({ email, codeChallenge: z.optional(codeChallenge) }),
  verify: z.union([z.strictObject({ email, code }), z.strictObject({ token: opaqueToken })]),
};

const NO_STORE = { "Cache-Control": "no-store" };

const requireEmailLogin = documented(
  createMiddleware<AppEnv>(async (c, next) => {
    if (!c.var.app.emailLogin) throw new ApiError("email_login_disabled");
    await next();
  }),
  { errors: ["email_login_disabled"] },
);

export const emailLoginRoutes = new Hono<AppEnv>()
  // Answered before any per-address work, so known and unknown addresses answer alike in time.
  .post(
    "/email-login",
    rateLimited,
    requireEmailLogin,
    endpoint({
      summary: "Mail a sign-in code and link",
      description:
        "The same answer whether or not the address has an account. The code and the link are valid for 10 minutes; a new request spends the previous ones; at most one mail per address a minute. " +
        "With `codeChallenge` (PKCE S256, kept by the page), Turkey's hosted page can hand a followed link back to this browser with a one-time code for `POST /v1/auth/token`.",
      body: schemas.request,
      responses: { 202: accepted },
    }),
    async (c) => {
      const ctx = authContext(c);
      const { email, codeChallenge } = c.req.valid("json");
      c.var.deps.defer(() => requestEmailLogin(ctx, email, codeChallenge));
      return c.json({ accepted: true } as const, 202, NO_STORE);
    },
  )
  .post(
    "/email-login/verify",
    rateLimited,
    requireEmailLogin,
    endpoint({
      summary: "Sign in with the mailed code or link",
      description:
        "`{email, code}` or `{token}` (from the link). Five wrong codes spend the code; each wrong code also counts towards the account's lockout. " +
        "An account with a second factor gets `mfaRequired`, as after a password login.",
      body: schemas.verify,
      responses: { 200: z.union([tokens, mfaRequired]) },
      errors: ["invalid_code", "invalid_token", "too_many_attempts", "temporarily_unavailable"],
    }),
    async (c) => c.json(await verifyEmailLogin(authContext(c), c.req.valid("json")), 200, NO_STORE),
  );
