/**
 * `POST /v1/auth/token`: the app's page exchanges the one-time code Turkey put in its URL (after
 * a provider's callback, or a hosted page that consumed a mailed link) and its PKCE verifier for
 * a sign-in. The work lives in src/auth/handoff.ts.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { exchangeHandoffCode } from "../auth/handoff";
import type { AppEnv } from "../context";
import { endpoint } from "../http/contract";
import { authContext, rateLimited } from "../http/middleware";
import { mfaRequired, tokens } from "../http/schemas";
import { codeVerifier, opaqueToken } from "./fields";

const schemas = {
  exchange: z.strictObject({
    grant_type: z.literal("authorization_code"),
    code: opaqueToken,
    code_verifier: codeVerifier,
  }),
};

const NO_STORE = { "Cache-Control": "no-store" };

export const tokenRoutes = new Hono<AppEnv>().post(
  "/token",
  rateLimited,
  endpoint({
    summary: "Exchange a one-time code for a sign-in",
    description:
      "The `code` Turkey added to the app's URL and the PKCE `code_verifier` whose S256 hash started the sign-in. " +
      "A code is valid 60 seconds and spent by its first exchange. A user with a second factor gets `mfaRequired`, " +
      "as after a password login.",
    body: schemas.exchange,
    responses: { 200: z.union([tokens, mfaRequired]) },
    errors: ["invalid_grant", "account_disabled", "email_not_verified", "temporarily_unavailable"],
  }),
  async (c) => {
    const { code, code_verifier } = c.req.valid("json");
    return c.json(
      await exchangeHandoffCode(authContext(c), { code, codeVerifier: code_verifier }),
      200,
      NO_STORE,
    );
  },
);
