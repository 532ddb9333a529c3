/**
 * Turkey's own pages for the links it mails, for apps that leave those pages to Turkey
 * (`gravy app set <appId> --hosted-pages on`): `/pages/<appId>/verify-email`,
 * `/reset-password`, `/confirm-email` and `/email-login`. Plain HTML, no script: the GET only
 * shows a form (mail scanners open links, so it never spends the token); the form's POST does
 * the work through the same domain functions as the JSON routes, then shows the result — or,
 * for a sign-in, sends the browser back to the app with a one-time code (src/auth/handoff.ts),
 * since the tokens belong to the app's page, not to Turkey's.
 */
import { type Context, Hono } from "hono";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import * as z from "zod/mini";
import type { App } from "../apps/registry";
import { findApp } from "../apps/registry";
import { confirmEmailChange } from "../auth/change-email";
import { resetPassword, verifyEmail } from "../auth/email-flows";
import { handOffEmailLink, linkCanHandOff } from "../auth/email-login";
import type { AppEnv } from "../context";
import { ApiError } from "../errors";
import { endpoint } from "../http/contract";
import { authContext, countCredentialRequest } from "../http/middleware";
import { opaqueToken } from "./fields";

const STYLE = `body{margin:0;font:1rem/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f4f4}
main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.5rem}
h1{font-size:1.4rem;margin-top:0}label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input{box-sizing:border-box;width:100%;padding:.6rem;font:inherit;border:1px solid #555;border-radius:.25rem}
button{margin-top:1rem;padding:.6rem 1.2rem;font:inherit;color:#fff;background:#1d4ed8;border:0;border-radius:.25rem;cursor:pointer}
input:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid #b45309;outline-offset:2px}
a{color:#1d4ed8}.code{font-family:monospace;color:#444}
@media (max-width:30rem){main{margin:0;border-radius:0}}`;

const styleHash = crypto.subtle
  .digest("SHA-256", new TextEncoder().encode(STYLE))
  .then((digest) => btoa(String.fromCharCode(...new Uint8Array(digest))));

/** `formTarget`: an origin the form's POST may redirect to (the app's, for a sign-in). */
export async function headers(formTarget?: string): Promise<Record<string, string>> {
  return {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": [
      "default-src 'none'",
      `style-src 'sha256-${await styleHash}'`,
      formTarget ? `form-action 'self' ${formTarget}` : "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join("; "),
  };
}

interface Page {
  title: (app: App) => string;
  intro: (app: App) => string;
  button: string;
  askPassword: boolean;
  done: (app: App) => string;
  /** Returns where to send the browser when the page ends in the app rather than here. */
  act: (c: Context<AppEnv>, token: string, password: string) => Promise<URL | unknown>;
  /** Whether the form can work at all (checked without spending the token); else `invalid_token`. */
  usable?: (c: Context<AppEnv>, token: string) => Promise<boolean>;
  /** The page ends by sending the browser to the app's URL. */
  returnsToApp?: true;
}

const PAGES: Record<string, Page> = {
  "verify-email": {
    title: (app) => `Confirm your email for ${app.name}`,
    intro: () => "Confirm that this email address is yours.",
    button: "Confirm my email",
    askPassword: false,
    done: (app) => `Your email address is confirmed. You can return to ${app.name}.`,
    act: (c, token) => verifyEmail(authContext(c), token),
  },
  "reset-password": {
    title: (app) => `Choose a new password for ${app.name}`,
    intro: () => "Choose a new password. Everyone signed in to your account will be signed out.",
    button: "Set my new password",
    askPassword: true,
    done: (app) => `Your password is changed. Sign in to ${app.name} with your new password.`,
    act: (c, token, password) => resetPassword(authContext(c), token, password),
  },
  "confirm-email": {
    title: (app) => `Use this email address for ${app.name}`,
    intro: () => "Move your account to this email address.",
    button: "Use this email address",
    askPassword: false,
    done: (app) => `Your account now uses this email address. You can return to ${app.name}.`,
    act: (c, token) => confirmEmailChange(authContext(c), token),
  },
  "email-login": {
    title: (app) => `Sign in to ${app.name}`,
    intro: (app) => `Continue to sign in to ${app.name} in the browser where you asked for this email.`,
    button: "Sign in",
    askPassword: false,
    done: (app) => `You are signed in to ${app.name}.`,
    act: (c, token) => handOffEmailLink(authContext(c), token),
    usable: (c, token) => linkCanHandOff(authContext(c), token),
    returnsToApp: true,
  },
};

/** Said instead of the generic message on the page of that name. */
const PAGE_MESSAGES: Partial<Record<string, Partial<Record<string, string>>>> = {
  "email-login": {
    invalid_token:
      "This link is invalid, expired or already used, or it cannot finish signing in here. Type the 6-digit code from the same email in the app, or ask for a new email.",
  },
};

const MESSAGES: Partial<Record<string, string>> = {
  invalid_token: "This link is invalid, expired or already used. Ask for a new one.",
  email_taken: "Another account already uses this email address.",
  validation_failed: "The password is not acceptable.",
  rate_limited: "Too many attempts from your network. Wait a little and try again.",
  unknown_app: "This page does not exist.",
};

const form = z.object({ token: opaqueToken, password: z.optional(z.string()) });

export function layout(title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

async function formPage(c: Context<AppEnv>, app: App, page: Page, token: string) {
  if (page.usable && !(await page.usable(c, token))) throw new ApiError("invalid_token");
  const password = page.askPassword
    ? html`<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required>`
    : "";
  return c.html(
    layout(
      page.title(app),
      html`<h1>${page.title(app)}</h1>
<p>${page.intro(app)}</p>
<form method="post">
<input type="hidden" name="token" value="${token}">
${password}
<button type="submit">${page.button}</button>
</form>`,
    ),
    200,
    await headers(page.returnsToApp ? new URL(app.url).origin : undefined),
  );
}

async function errorPage(c: Context<AppEnv>, app: App | undefined, error: ApiError, path?: string) {
  const title = app ? `${app.name}: this did not work` : "This did not work";
  return c.html(
    layout(
      title,
      html`<h1>${title}</h1>
<p>${(path && PAGE_MESSAGES[path]?.[error.code]) ?? MESSAGES[error.code] ?? "Something went wrong. Try again later."}</p>
<p class="code">Error code: ${error.code}</p>`,
    ),
    error.status,
    await headers(),
  );
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  throw error;
}

/** The app named in the path, if it turned hosted pages on. */
async function pageApp(c: Context<AppEnv>): Promise<App> {
  const { deps } = c.var;
  const appId = c.req.param("appId") ?? "";
  const app = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(appId)
    ? await findApp(deps.db, appId, deps.clock().getTime())
    : undefined;
  if (!app?.hostedPages) throw new ApiError("unknown_app");
  c.set("app", app);
  return app;
}

const contract = (summary: string) =>
  endpoint({
    summary,
    description:
      "For apps with hosted pages on. An HTML page; errors are HTML pages too, with the error code shown.",
    responses: { 200: z.string(), 303: null, 400: z.string(), 409: z.string(), 429: z.string() },
    mediaType: "text/html",
    headers: ["noStore", "contentSecurityPolicy"],
  });

export const pageRoutes = new Hono<AppEnv>();

for (const [path, page] of Object.entries(PAGES)) {
  pageRoutes.get(`/:appId/${path}`, contract(`Hosted page: ${path} (form)`), async (c) => {
    let app: App | undefined;
    try {
      app = await pageApp(c);
      const token = opaqueToken.safeParse(c.req.query("token"));
      if (!token.success) throw new ApiError("invalid_token");
      return await formPage(c, app, page, token.data);
    } catch (error) {
      return errorPage(c, app, toApiError(error), path);
    }
  });
  pageRoutes.post(`/:appId/${path}`, contract(`Hosted page: ${path} (action)`), async (c) => {
    let app: App | undefined;
    try {
      app = await pageApp(c);
      // The same window as the JSON routes; the page leaves out the RateLimit headers.
      await countCredentialRequest(c);
      const input = form.safeParse(await c.req.parseBody());
      if (!input.success) throw new ApiError("invalid_token");
      const result = await page.act(c, input.data.token, input.data.password ?? "");
      // 303: the browser follows with a GET, and the form is not sent again.
      if (result instanceof URL) return c.body(null, 303, { ...(await headers()), Location: result.href });
      const done = page.done(app);
      return c.html(layout(done, html`<h1>Done</h1>\n<p>${done}</p>`), 200, await headers());
    } catch (error) {
      return errorPage(c, app, toApiError(error), path);
    }
  });
}
