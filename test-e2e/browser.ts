/**
 * End to end as an app uses the SDK: `npm pack` of packages/sdk, installed into a fresh Vite +
 * TypeScript app (test-e2e/sample-app) and built, then clicked through in headless Chromium
 * against the Worker under `wrangler dev` and an embedded PostgreSQL. The app served from the
 * origin in ALLOWED_ORIGINS must complete sign-up → login → calls with the token → refresh →
 * logout; the same app from a second origin must be stopped by CORS. Run with
 * `npm run test:browser`; screenshots go to test-results/. The app's backend (plain Node) checks
 * the browser's token with TurKeyServer from the same installed package. The API reference page
 * (/docs) must render under its Content-Security-Policy (docs-page.ts). A second user turns on
 * TOTP and signs in again typing a code computed by the `otpauth` library, as an authenticator
 * app would show it. A third user adds a passkey with a virtual authenticator, signs in with it
 * alone, and uses it as the second factor after a password (passkeys.ts). The app is served
 * from http://localhost:<port>, so "localhost" is its passkeys' RP ID. Each hosted page must
 * work from the link mailed to the fake Mailgun and pass axe-core (hosted-pages.ts). A social
 * sign-in goes through a real OpenID Connect provider's login and consent pages and back to the
 * app (social-sign-in.ts).
 *
 * Everything it starts (database, Worker, app servers, browser) lives in its own temp folder
 * and ports 57000–57999, and is stopped on every exit path.
 */
import { randomUUID } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as OTPAuth from "otpauth";
import pg from "pg";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { SDK_VERSION } from "../packages/sdk/src/client";
import { checkDocsPage } from "./docs-page";
import { checkHostedPages } from "./hosted-pages";
import { checkPasskeys } from "./passkeys";
import {
  type BuiltApp,
  buildSampleApp,
  type PackedSdk,
  packSdk,
  serveStatic,
  verifyInBackend,
} from "./sample-app";
import { type Cleanup, distinctPorts, startBackend } from "./services";
import { checkSocialSignIn } from "./social-sign-in";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const APP_ID = "browser-e2e";
const PASSWORD = "correct horse battery staple";
const STORAGE_KEY = `turkey.${APP_ID}.session`;
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const RESULTS = path.join(ROOT, "test-results");

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const checks: Check[] = [];

function expectThat(name: string, ok: boolean, detail = ""): void {
  checks.push({ name, ok, detail });
  console.log(`${ok ? "  ✓" : "  ✗"} ${name}${detail ? ` — ${detail}` : ""}`);
}

function reportPackage(sdk: PackedSdk, app: BuiltApp): void {
  console.log(
    `\npackage ${sdk.id}: ${path.basename(sdk.tarball)}, ${sdk.size} bytes, ${sdk.files.length} files`,
  );
  for (const file of sdk.files) console.log(`    ${file.path} (${file.size} B)`);
  const stray = sdk.files.filter(
    (file) => !/^(dist\/.+\.(js|d\.ts)|package\.json|README\.md)$/.test(file.path),
  );
  expectThat(
    "the tarball holds dist/, README.md and package.json only",
    stray.length === 0,
    stray.join(", "),
  );
  const manifest = app.installedManifest;
  const runtime = ["dependencies", "peerDependencies", "optionalDependencies"].filter(
    (key) => key in manifest,
  );
  expectThat("the installed package has no runtime dependencies", runtime.length === 0, runtime.join(", "));
}

interface LogEntry {
  ok: boolean;
  code: string;
  text: string;
}

/** Clicks an action's button, as a user would, and reads the line it adds to the activity log. */
async function act(page: Page, action: string): Promise<LogEntry> {
  const entries = page.locator(`#log li[data-action="${action}"]`);
  const before = await entries.count();
  await page.click(`button[data-action="${action}"]`);
  const entry = entries.nth(before);
  await entry.waitFor({ timeout: 30_000 });
  return {
    ok: (await entry.getAttribute("data-ok")) === "true",
    code: (await entry.getAttribute("data-code")) ?? "",
    text: (await entry.textContent()) ?? "",
  };
}

async function expectAction(page: Page, action: string, mustContain = ""): Promise<void> {
  const entry = await act(page, action);
  expectThat(`${action}`, entry.ok && entry.text.includes(mustContain), entry.text);
}

interface StoredTokens {
  accessToken: string;
  refreshToken: string;
}

async function storedTokens(page: Page): Promise<StoredTokens | null> {
  const text = await page.evaluate((key) => localStorage.getItem(key), STORAGE_KEY);
  return text ? (JSON.parse(text) as StoredTokens) : null;
}

async function openApp(context: BrowserContext, url: string, email: string) {
  const page = await context.newPage();
  const consoleLines: string[] = [];
  page.on("console", (message) => consoleLines.push(message.text()));
  page.on("pageerror", (error) => consoleLines.push(`pageerror: ${error.message}`));
  await page.goto(url);
  await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', PASSWORD);
  return { page, consoleLines };
}

async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(RESULTS, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS, name), fullPage: true });
  console.log(`  screenshot: test-results/${name}`);
}

/** The app's backend checks the browser's token with TurKeyServer from the installed package. */
async function checkBackend(app: BuiltApp, workerUrl: string, token = "", live = true): Promise<void> {
  const claims = await verifyInBackend(app, { turkeyUrl: workerUrl, appId: APP_ID }, token);
  const name = live ? "the backend accepts the access token" : "the backend rejects the old access token";
  const ok = live ? claims?.aud === APP_ID && typeof claims.sub === "string" : claims === null;
  expectThat(name, ok, claims ? `TurKeyServer: ${claims.email}, aud ${claims.aud}` : "TurKeyServer: null");
}

/** After logout the old access token must be refused by the Worker itself. */
async function checkRevoked(workerUrl: string, accessToken: string | undefined): Promise<void> {
  const response = await fetch(`${workerUrl}/v1/auth/me`, {
    headers: { Authorization: `Bearer ${accessToken}`, "X-App-Id": APP_ID },
  });
  const code = ((await response.json()) as { error?: { code?: string } }).error?.code;
  expectThat(
    "the Worker refuses the old access token",
    code === "token_revoked",
    `${response.status} ${code}`,
  );
}

async function checkAllowedOrigin(
  context: BrowserContext,
  pageUrl: string,
  { app, workerUrl }: { app: BuiltApp; workerUrl: string },
): Promise<void> {
  console.log(`\nallowed origin ${new URL(pageUrl).origin}`);
  const email = `browser-${randomUUID().slice(0, 8)}@example.com`;
  const { page, consoleLines } = await openApp(context, pageUrl, email);
  const about = (await page.textContent("#about")) ?? "";
  expectThat(
    `the page runs the installed @turkey/sdk ${SDK_VERSION}`,
    about.includes(`@turkey/sdk ${SDK_VERSION}`),
    about,
  );
  await expectAction(page, "signUp", email);
  await expectAction(page, "logIn", email);
  const session = await storedTokens(page);
  expectThat("the session is kept in localStorage", session !== null);
  await checkBackend(app, workerUrl, session?.accessToken);
  await expectAction(page, "profile", email);
  await expectAction(page, "callApi", email);
  await expectAction(page, "sessions", "2 live sessions");
  await screenshot(page, "browser-signed-in.png");
  await expectAction(page, "refresh");
  const refreshed = await storedTokens(page);
  const rotated =
    refreshed?.accessToken !== session?.accessToken && refreshed?.refreshToken !== session?.refreshToken;
  expectThat("refresh replaced both stored tokens", refreshed !== null && rotated);
  await expectAction(page, "logOut", "logged out");
  expectThat("logout cleared localStorage", (await storedTokens(page)) === null);
  await checkRevoked(workerUrl, refreshed?.accessToken);
  await checkBackend(app, workerUrl, refreshed?.accessToken, false);
  const events = (await page.textContent("#events")) ?? "";
  const expected = "signed_in → signed_in → token_refreshed → signed_out";
  expectThat("auth events", events === expected, events);
  const errors = consoleLines.filter((line) => /error|blocked/i.test(line));
  expectThat("no console errors", errors.length === 0, errors.join(" | "));
  await screenshot(page, "browser.png");
}

/** Turns TOTP on for the page's signed-in user, typing a code as the authenticator app shows it. */
async function enableTotp(page: Page): Promise<() => string> {
  await expectAction(page, "enrollTotp", "scan the QR code");
  const totp = OTPAuth.URI.parse((await page.textContent("#otpauth")) ?? "") as OTPAuth.TOTP;
  await page.fill('input[name="code"]', totp.generate());
  await expectAction(page, "confirmTotp", "10 recovery codes");
  return () => totp.generate();
}

/** Passkeys with a CDP virtual authenticator: passwordless, and as the second factor. */
async function checkPasskeysIn(context: BrowserContext, pageUrl: string, app: BuiltApp, workerUrl: string) {
  const email = `passkey-${randomUUID().slice(0, 8)}@example.com`;
  const { page, consoleLines } = await openApp(context, pageUrl, email);
  const claims = async (current: Page) => {
    const token = (await storedTokens(current))?.accessToken ?? "";
    return (await verifyInBackend(app, { turkeyUrl: workerUrl, appId: APP_ID }, token)) as {
      amr?: string[];
      aal?: number;
    } | null;
  };
  await checkPasskeys(page, email, { expectAction, expectThat, screenshot, claims, enableTotp });
  const errors = consoleLines.filter((line) => /error|blocked/i.test(line));
  expectThat("no console errors", errors.length === 0, errors.join(" | "));
}

/** TOTP: enrol, confirm with a typed code, log out, log in again → second factor → typed code. */
async function checkTotp(context: BrowserContext, pageUrl: string, app: BuiltApp, workerUrl: string) {
  console.log("\ntwo-step sign-in (TOTP)");
  const email = `totp-${randomUUID().slice(0, 8)}@example.com`;
  const { page, consoleLines } = await openApp(context, pageUrl, email);
  await expectAction(page, "signUp", email);
  await expectAction(page, "enrollTotp", "scan the QR code");
  const uri = (await page.textContent("#otpauth")) ?? "";
  const totp = OTPAuth.URI.parse(uri) as OTPAuth.TOTP;
  expectThat(
    "the otpauth URI names the app and the user",
    totp.label === email && totp.issuer === "Browser check",
    uri,
  );
  await page.fill('input[name="code"]', totp.generate());
  await expectAction(page, "confirmTotp", "10 recovery codes");
  await screenshot(page, "browser-totp-enrolled.png");
  await expectAction(page, "logOut", "logged out");
  await expectAction(page, "logIn", "second factor required: totp, recovery_code");
  expectThat("no session is stored before the second factor", (await storedTokens(page)) === null);
  await screenshot(page, "browser-totp-required.png");
  // The confirming code's time step is spent; the next step's code is within the allowed skew.
  await page.fill('input[name="code"]', totp.generate({ timestamp: Date.now() + 30_000 }));
  await expectAction(page, "verifyMfa", "with a second factor");
  const session = await storedTokens(page);
  const claims = (await verifyInBackend(
    app,
    { turkeyUrl: workerUrl, appId: APP_ID },
    session?.accessToken ?? "",
  )) as {
    amr?: string[];
    aal?: number;
  } | null;
  expectThat(
    "the backend sees amr [pwd, otp] and aal 2",
    claims?.aal === 2 && claims.amr?.join() === "pwd,otp",
    JSON.stringify({ amr: claims?.amr, aal: claims?.aal }),
  );
  await screenshot(page, "browser-totp-signed-in.png");
  await expectAction(page, "logOut", "logged out");
  const errors = consoleLines.filter((line) => /error|blocked/i.test(line));
  expectThat("no console errors", errors.length === 0, errors.join(" | "));
}

async function checkBlockedOrigin(context: BrowserContext, pageUrl: string): Promise<void> {
  console.log(`\nblocked origin ${new URL(pageUrl).origin}`);
  const { page, consoleLines } = await openApp(context, pageUrl, "blocked@example.com");
  const entry = await act(page, "signUp");
  expectThat("sign-up fails with network_error", !entry.ok && entry.code === "network_error", entry.text);
  const cors = consoleLines.find((line) => line.includes("CORS policy"));
  expectThat("the browser blamed CORS", cors !== undefined, cors?.slice(0, 120));
  await screenshot(page, "browser-blocked.png");
}

/** Preflights as a browser would send them, straight to the Worker. */
async function checkPreflights(workerUrl: string, allowed: string, blocked: string): Promise<void> {
  console.log("\npreflight answers");
  for (const [origin, expected] of [
    [allowed, allowed],
    [blocked, null],
  ] as const) {
    const response = await fetch(`${workerUrl}/v1/auth/login`, {
      method: "OPTIONS",
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-app-id",
      },
    });
    const granted = response.headers.get("access-control-allow-origin");
    expectThat(
      `preflight from ${origin}`,
      granted === expected,
      `Access-Control-Allow-Origin: ${granted ?? "(none)"}`,
    );
  }
}

/** Only the allowed page may have created users: the blocked page's POST never left the browser. */
async function checkUsers(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    const result = await client.query("select count(*)::int as n from users where app_id = $1", [APP_ID]);
    const count = Number(result.rows[0]?.n);
    expectThat(
      "exactly the three users of the allowed origin registered",
      count === 3,
      `${count} in ${APP_ID}`,
    );
  } finally {
    await client.end();
  }
}

/** Packs, installs and builds the app while the database and the Worker start. */
async function prepare(dir: string, cleanups: Cleanup[]) {
  const ports = await distinctPorts();
  // localhost, not 127.0.0.1: an IP address cannot be a passkey's RP ID.
  const allowed = `http://localhost:${ports.allowedPort}`;
  const blocked = `http://127.0.0.1:${ports.blockedPort}`;
  const turkeyUrl = `http://127.0.0.1:${ports.workerPort}`;
  console.log(`packing the SDK and building the app; starting the Worker on ${turkeyUrl} …`);
  const building = packSdk(dir).then(async (sdk) => ({
    sdk,
    app: await buildSampleApp(dir, sdk.tarball, { turkeyUrl, appId: APP_ID }),
  }));
  const starting = startBackend(dir, ports, { id: APP_ID, allowedOrigin: allowed }, cleanups);
  // Both run to their end before either failure is raised, so cleanup never races a start.
  const [built, backend] = await Promise.allSettled([building, starting]);
  if (built.status === "rejected") throw built.reason;
  if (backend.status === "rejected") throw backend.reason;
  return { ports, allowed, blocked, ...built.value, ...backend.value };
}

async function run(cleanups: Cleanup[]): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "turkey-e2e-"));
  // As root, Postgres runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));

  const { ports, allowed, blocked, sdk, app, databaseUrl, workerUrl, mailgunUrl, encryptionKey } =
    await prepare(dir, cleanups);
  reportPackage(sdk, app);
  for (const port of [ports.allowedPort, ports.blockedPort]) {
    const server = await serveStatic(app.distDir, port);
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  }

  const context = await chromium.launchPersistentContext(path.join(dir, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  cleanups.push(() => context.close());

  await checkAllowedOrigin(context, `${allowed}/`, { app, workerUrl });
  await checkTotp(context, `${allowed}/`, app, workerUrl);
  await checkPasskeysIn(context, `${allowed}/`, app, workerUrl);
  await checkBlockedOrigin(context, `${blocked}/`);
  await checkPreflights(workerUrl, allowed, blocked);
  await checkUsers(databaseUrl);
  await checkDocsPage(context, workerUrl, path.join(RESULTS, "docs.png"), expectThat);
  await checkHostedPages(context, {
    workerUrl,
    mailgunUrl,
    appId: APP_ID,
    appUrl: `${allowed}/`,
    results: RESULTS,
    expectThat,
  });
  await checkSocialSignIn(
    context,
    {
      workerUrl,
      databaseUrl,
      encryptionKey,
      appId: APP_ID,
      appUrl: `${allowed}/`,
      results: RESULTS,
      expectThat,
    },
    cleanups,
  );
}

async function main(): Promise<void> {
  const cleanups: Cleanup[] = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(error));
    cleanups.length = 0;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  try {
    await run(cleanups);
  } catch (error) {
    expectThat("the run completed", false, error instanceof Error ? error.message : String(error));
  } finally {
    await cleanUp();
  }
  const failed = checks.filter((check) => !check.ok).length;
  console.log(`\nbrowser: ${checks.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

await main();
