/**
 * The /v1/auth/passkeys route table: adding, listing and removing the user's passkeys, and
 * signing in with one, without a password. The work lives in src/passkeys.
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { endpoint } from "../http/contract";
import { authContext, rateLimited, requireUser } from "../http/middleware";
import {
  mfaRequired,
  passkey,
  passkeyCreationOptions,
  passkeyList,
  passkeyRequestOptions,
  tokens,
} from "../http/schemas";
import { deletePasskeys, listPasskeys } from "../passkeys/credentials";
import { loginWithPasskey, passkeyLoginOptions } from "../passkeys/login";
import { registerPasskey, registrationOptions } from "../passkeys/register";
import { email, name } from "./fields";
import { authenticationResponse, registrationResponse } from "./passkey-fields";

const schemas = {
  register: z.object({
    response: registrationResponse,
    name: z.optional(name.check(z.meta({ description: "Shown in the user's list; `Passkey` if absent." }))),
  }),
  loginOptions: z.object({ email: z.optional(email) }),
  login: z.object({ response: authenticationResponse }),
  passkeyId: z.object({ id: z.uuid("must be a passkey id") }),
};

const NO_STORE = { "Cache-Control": "no-store" };

export const passkeyRoutes = new Hono<AppEnv>()
  .post(
    "/register/options",
    rateLimited,
    requireUser,
    endpoint({
      summary: "Start adding a passkey",
      description:
        "Creation options for navigator.credentials.create; the challenge works once, for 5 minutes, " +
        "for this user. The user's passkeys are excluded.",
      responses: { 200: passkeyCreationOptions },
    }),
    async (c) => c.json(await registrationOptions(authContext(c), c.var.claims.sub), 200, NO_STORE),
  )
  .post(
    "/register/verify",
    rateLimited,
    requireUser,
    endpoint({
      summary: "Add a passkey",
      description: "The authenticator's response to the creation options; answers the stored passkey.",
      body: schemas.register,
      responses: { 201: passkey },
      errors: ["passkey_invalid"],
    }),
    async (c) => {
      const { response, name } = c.req.valid("json");
      const stored = await registerPasskey(authContext(c), c.var.claims.sub, {
        response: response as RegistrationResponseJSON,
        name,
      });
      return c.json(stored, 201, NO_STORE);
    },
  )
  .post(
    "/login/options",
    rateLimited,
    endpoint({
      summary: "Start a sign-in with a passkey",
      description:
        "Request options for navigator.credentials.get. Without an email, any passkey of the app's users " +
        "(discoverable); with one, that user's passkeys. An email without passkeys or without an " +
        "account gets options that look the same, so the answer tells nothing about accounts.",
      body: schemas.loginOptions,
      responses: { 200: passkeyRequestOptions },
    }),
    async (c) => c.json(await passkeyLoginOptions(authContext(c), c.req.valid("json")), 200, NO_STORE),
  )
  .post(
    "/login/verify",
    rateLimited,
    endpoint({
      summary: "Sign in with a passkey",
      description:
        'The authenticator\'s signed response. The tokens say amr ["hwk"] (a device-bound passkey) or ' +
        '["swk"] (a synced one), and aal 2 when the authenticator verified the user, else 1. ' +
        "Without user verification, an account with a second factor gets `mfaRequired`, as after a password.",
      body: schemas.login,
      responses: { 200: z.union([tokens, mfaRequired]) },
      errors: ["passkey_invalid", "account_disabled"],
    }),
    async (c) => {
      const response = c.req.valid("json").response as AuthenticationResponseJSON;
      return c.json(await loginWithPasskey(authContext(c), response), 200, NO_STORE);
    },
  )
  .get(
    "/",
    requireUser,
    endpoint({ summary: "The user's passkeys", responses: { 200: passkeyList } }),
    async (c) => {
      const passkeys = await listPasskeys(c.var.deps.db, c.var.app.id, c.var.claims.sub);
      return c.json({ passkeys }, 200, NO_STORE);
    },
  )
  .delete(
    "/:id",
    requireUser,
    endpoint({
      summary: "Remove one of the user's passkeys",
      params: schemas.passkeyId,
      responses: { 204: null },
      errors: ["not_found"],
    }),
    async (c) => {
      const ctx = authContext(c);
      const target = { appId: ctx.app.id, userId: c.var.claims.sub, id: c.req.valid("param").id };
      if ((await deletePasskeys(ctx.db, target, ctx)) === 0)
        throw new ApiError("not_found", "No such passkey");
      return c.body(null, 204, NO_STORE);
    },
  );
