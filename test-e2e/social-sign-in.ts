/**
 * Social sign-in in headless Chromium: a real OpenID Connect provider (oidc-provider) on a
 * local port is enabled for the app as its `oidc` provider (`gravy app provider add`'s code,
 * secret sealed under the Worker's ENCRYPTION_KEY), the app's page is registered as the return
 * URL, and a person clicks "Sign in with OIDC", fills in the provider's login and consent
 * pages, and lands back on the app signed in. Screenshots of each page go to test-results/.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import type { BrowserContext, Page } from "playwright-core";
import { addProvider, addRedirect, checkNewProvider } from "../src/cli/oauth";
import { startOidcProvider } from "../test/support/oidc-provider";
import { type Cleanup, freePort } from "./services";

type Expect = (name: string, ok: boolean, detail?: string) => void;

interface Setup {
  workerUrl: string;
  databaseUrl: string;
  encryptionKey: string;
  appId: string;
  /** The sample app's page: the sign-in returns there. */
  appUrl: string;
  results: string;
  expectThat: Expect;
}

export async function checkSocialSignIn(context: BrowserContext, setup: Setup, cleanups: Cleanup[]) {
  console.log("\nsocial sign-in (a real OpenID Connect provider)");
  const client = { clientId: "sample-app", clientSecret: crypto.randomUUID() };
  const provider = await startOidcProvider(
    [{ ...client, redirectUris: [`${setup.workerUrl}/v1/auth/oauth/oidc/callback`] }],
    await freePort(),
  );
  cleanups.push(() => provider.close());
  await enable(setup, provider.issuer, client);

  const page = await context.newPage();
  const consoleLines: string[] = [];
  page.on("console", (message) => consoleLines.push(message.text()));
  await page.goto(setup.appUrl);
  await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
  await page.click('button[data-action="signInWithOidc"]');

  await page.waitForURL((url) => url.origin === provider.issuer, { timeout: 30_000 });
  setup.expectThat(
    "the browser is at the provider's login page",
    await page.isVisible('input[name="login"]'),
    page.url(),
  );
  const login = `ada-${crypto.randomUUID().slice(0, 6)}`;
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', "any password");
  await shoot(page, setup, "social-provider-login.png");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=Authorize", { timeout: 30_000 });
  await shoot(page, setup, "social-provider-consent.png");
  await page.click("button[type=submit]");

  await page.waitForURL((url) => url.origin === new URL(setup.appUrl).origin, { timeout: 30_000 });
  const entry = page.locator('#log li[data-action="redirect"]');
  await entry.waitFor({ timeout: 30_000 });
  const text = (await entry.textContent()) ?? "";
  const email = `${login}@oidc.test`;
  setup.expectThat(
    "back on the app, signed in by the provider",
    text.includes(`signed in as ${email}`),
    text,
  );
  setup.expectThat(
    "no code is left in the address bar",
    !new URL(page.url()).searchParams.has("code"),
    page.url(),
  );
  const status = (await page.textContent("#status")) ?? "";
  setup.expectThat("the app shows the user", status === `Signed in as ${email}`, status);
  await shoot(page, setup, "social-signed-in.png");
  const errors = consoleLines.filter((line) => /error|blocked/i.test(line));
  setup.expectThat("no console errors", errors.length === 0, errors.join(" | "));
  await page.close();
}

async function enable(setup: Setup, issuer: string, client: { clientId: string; clientSecret: string }) {
  const pool = new pg.Pool({ connectionString: setup.databaseUrl, max: 1 });
  try {
    const provider = checkNewProvider({
      appId: setup.appId,
      provider: "oidc",
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      issuer,
      tenant: undefined,
      scopes: undefined,
      appleTeamId: undefined,
      appleKeyId: undefined,
    });
    await addProvider(pool, { current: setup.encryptionKey, previous: undefined }, provider);
    await addRedirect(pool, setup.appId, setup.appUrl);
  } finally {
    await pool.end();
  }
}

async function shoot(page: Page, setup: Setup, name: string): Promise<void> {
  await mkdir(setup.results, { recursive: true });
  await page.screenshot({ path: path.join(setup.results, name), fullPage: true });
  console.log(`  screenshot: test-results/${name}`);
}
