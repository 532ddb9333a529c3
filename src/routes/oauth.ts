/**
 * Social sign-in. Two browser navigations, which cannot send X-App-Id (the app is named in
 * the query, or by the sign-in's state): `/v1/auth/oauth/:provider/authorize` sends the
 * browser to the provider, `/callback` brings it back to the app's registered return URL with
 * a one-time code (or `error` and `error_description`). Until the return URL is known to be
 * registered, an error is a plain page instead. The signed-in user's identities are JSON
 * routes under /v1/auth/identities. The work lives in src/federation.
 */
import { type Context, Hono } from "hono";
import { html } from "hono/html";
import * as z from "zod/mini";
import { findApp } from "../apps/registry";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { completeSignIn } from "../federation/callback";
import { type Flow, spendState, startSignIn } from "../federation/flow";
import { listIdentities, unlinkIdentity } from "../federation/identities";
import { isProviderName, PROVIDERS, type ProviderName } from "../federation/providers";
import { returnUrl } from "../federation/redirects";
import { endpoint } from "../http/contract";
import { authContext, countCredentialRequest, rateLimited, requireUser } from "../http/middleware";
import { layout, headers as pageHeaders } from "./pages";

const provider = z.enum(PROVIDERS);
const url = z.string().check(
  z.maxLength(2048),
  z.refine(
    (text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol),
    "must be an http(s) URL",
  ),
);
const codeChallenge = z
  .string()
  .check(
    z.regex(/^[A-Za-z0-9_-]{43}$/, "must be a base64url SHA-256 digest"),
    z.meta({ description: "BASE64URL(SHA-256(code_verifier)) of the app's own PKCE verifier." }),
  );

const schemas = {
  authorize: z.object({
    app_id: z.string().check(z.maxLength(64)),
    redirect_to: url,
    code_challenge: codeChallenge,
    code_challenge_method: z.literal("S256"),
  }),
  link: z.object({ redirectTo: url }),
};

const identity = z.strictObject({
  id: z.uuid(),
  provider: z.string(),
  email: z.nullable(z.string()),
  emailVerified: z.boolean(),
  createdAt: z.iso.datetime(),
  lastSignInAt: z.nullable(z.iso.datetime()),
});

const AFTER_REDIRECT_CHECK = new Set<string>(["provider_unavailable", "provider_error"]);

const NO_STORE = { "Cache-Control": "no-store" };

const MESSAGES: Partial<Record<string, string>> = {
  unknown_app: "This sign-in link names no app.",
  redirect_not_allowed: "This sign-in would return to an address the app has not registered.",
  oauth_state_invalid: "This sign-in has expired or was already used. Start it again from the app.",
  validation_failed: "This sign-in link is not valid.",
  provider_not_enabled: "This app does not offer sign-in with this provider.",
  rate_limited: "Too many sign-in attempts from your network. Wait a little and try again.",
};

async function errorPage(c: Context<AppEnv>, error: ApiError) {
  const title = "Sign-in did not work";
  const message = MESSAGES[error.code] ?? "Something went wrong. Go back to the app and try again.";
  return c.html(
    layout(title, html`<h1>${title}</h1>\n<p>${message}</p>\n<p class="code">Error code: ${error.code}</p>`),
    error.status,
    await pageHeaders(),
  );
}

/** Back to the app's return URL with the error, as OAuth clients expect it. */
function redirectError(c: Context<AppEnv>, redirectTo: string, error: ApiError) {
  return c.redirect(returnUrl(redirectTo, { error: error.code, error_description: error.message }), 302);
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  throw error;
}

/** Answers of the browser routes: a redirect, or a plain page about an error. */
const browserContract = (summary: string, description: string) =>
  endpoint({
    summary,
    description,
    responses: { 302: null, 400: z.string(), 404: z.string(), 429: z.string(), 503: z.string() },
    mediaType: "text/html",
    headers: ["noStore", "contentSecurityPolicy"],
  });

const CALLBACK =
  "Where the provider returns the browser; the URL to register with the provider is " +
  "`<Turkey's origin>/v1/auth/oauth/<provider>/callback`. Returns to the app with a one-time `code` " +
  "(exchanged at POST /v1/auth/token) or `error` and `error_description`; Apple posts a form here.";

/** The browser navigations; mounted before the X-App-Id check. */
export const oauthBrowserRoutes = new Hono<AppEnv>()
  .get(
    "/:provider/authorize",
    browserContract(
      "Start a social sign-in (browser navigation)",
      "Query: `app_id`, `redirect_to`, `code_challenge` (BASE64URL(SHA-256(verifier)) of the app page's PKCE " +
        "verifier) and `code_challenge_method=S256`. Redirects to the provider. " +
        "`redirect_to` must be one of the app's registered return URLs, exactly; " +
        "errors before it is known to be registered are shown as a page, later ones return there with `error`.",
    ),
    async (c) => {
      const query = schemas.authorize.safeParse(c.req.query());
      const name = c.req.param("provider");
      try {
        if (!query.success || !isProviderName(name)) throw new ApiError("validation_failed");
        await selectApp(c, query.data.app_id);
        await countCredentialRequest(c);
        const target = await startSignIn(authContext(c), {
          provider: name,
          redirectTo: query.data.redirect_to,
          codeChallenge: query.data.code_challenge,
        });
        return c.redirect(target.toString(), 302);
      } catch (error) {
        const apiError = asApiError(error);
        // Raised only after the return URL was found registered.
        if (query.success && AFTER_REDIRECT_CHECK.has(apiError.code))
          return redirectError(c, query.data.redirect_to, apiError);
        return errorPage(c, apiError);
      }
    },
  )
  .get("/:provider/callback", browserContract("Social sign-in callback", CALLBACK), (c) =>
    callback(c, new URLSearchParams(c.req.query())),
  )
  .post("/:provider/callback", browserContract("Social sign-in callback (form post)", CALLBACK), async (c) =>
    callback(c, await formParams(c)),
  );

async function formParams(c: Context<AppEnv>): Promise<URLSearchParams> {
  const body = await c.req.parseBody();
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) if (typeof value === "string") params.set(name, value);
  return params;
}

async function callback(c: Context<AppEnv>, params: URLSearchParams) {
  const name = c.req.param("provider") ?? "";
  let flow: Flow | undefined;
  try {
    const state = params.get("state");
    if (!isProviderName(name) || !state) throw new ApiError("oauth_state_invalid");
    const { deps } = c.var;
    flow = await spendState({ db: deps.db, now: deps.clock() }, name, state);
    if (!flow) throw new ApiError("oauth_state_invalid");
    await selectApp(c, flow.appId);
    await countCredentialRequest(c);
    const answer = await completeSignIn(authContext(c), flow, params);
    return c.redirect(returnUrl(flow.redirectTo, answer), 302);
  } catch (error) {
    const apiError = asApiError(error);
    // A return URL no longer registered is not trusted with even an error.
    if (!flow || apiError.code === "redirect_not_allowed") return errorPage(c, apiError);
    return redirectError(c, flow.redirectTo, apiError);
  }
}

async function selectApp(c: Context<AppEnv>, appId: string): Promise<void> {
  const { deps } = c.var;
  const app = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(appId)
    ? await findApp(deps.db, appId, deps.clock().getTime())
    : undefined;
  if (!app) throw new ApiError("unknown_app");
  c.set("app", app);
}

/** The signed-in user's identities (X-App-Id and Bearer, like every /v1/auth route). */
export const identityRoutes = new Hono<AppEnv>()
  .get(
    "/identities",
    requireUser,
    endpoint({
      summary: "The user's linked sign-in providers",
      responses: { 200: z.strictObject({ identities: z.array(identity) }) },
    }),
    async (c) => {
      const identities = await listIdentities(authContext(c), c.var.claims.sub);
      return c.json({ identities }, 200, NO_STORE);
    },
  )
  .post(
    "/identities/link/:provider",
    rateLimited,
    requireUser,
    endpoint({
      summary: "Start linking a sign-in provider",
      description:
        "Answers the provider's URL to navigate to. The provider returns the browser to `redirectTo` " +
        "(a registered return URL) with `linked=<provider>`, or `error` and `error_description`.",
      params: z.object({ provider }),
      body: schemas.link,
      responses: { 200: z.strictObject({ url: z.string() }) },
      errors: ["provider_not_enabled", "redirect_not_allowed", "provider_unavailable", "provider_error"],
    }),
    async (c) => {
      const target = await startSignIn(authContext(c), {
        provider: c.req.valid("param").provider as ProviderName,
        redirectTo: c.req.valid("json").redirectTo,
        linkUserId: c.var.claims.sub,
      });
      return c.json({ url: target.toString() }, 200, NO_STORE);
    },
  )
  .delete(
    "/identities/:id",
    requireUser,
    endpoint({
      summary: "Unlink a sign-in provider",
      description: "Refused when it is the account's last way to sign in (no password, no other provider).",
      params: z.object({ id: z.uuid() }),
      responses: { 204: null },
      errors: ["identity_not_found", "last_sign_in_method"],
    }),
    async (c) => {
      await unlinkIdentity(authContext(c), c.var.claims.sub, c.req.valid("param").id);
      return c.body(null, 204, NO_STORE);
    },
  );
