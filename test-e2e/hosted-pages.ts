/**
 * Turkey's hosted pages in headless Chromium: for each page, the link is taken from the mail
 * the fake Mailgun recorded, opened, filled in and submitted, and the result page read. Every
 * form and result page is checked by axe-core (its source injected into the page) for serious
 * or critical violations, and by the CSP for none at all. Screenshots go to test-results/.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";

type Expect = (name: string, ok: boolean, detail?: string) => void;

interface Setup {
  workerUrl: string;
  mailgunUrl: string;
  appId: string;
  /** The sample app, the app's URL: a sign-in from a hosted page returns there. */
  appUrl: string;
  results: string;
  expectThat: Expect;
}

const PASSWORD = "correct horse battery staple";

export async function checkHostedPages(context: BrowserContext, setup: Setup): Promise<void> {
  console.log("\nhosted pages");
  const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  const api = (route: string, body: unknown, token?: string) =>
    fetch(`${setup.workerUrl}${route}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-app-id": setup.appId,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });

  const email = `pages-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const registered = await api("/v1/auth/register", { email, password: PASSWORD });
  const { accessToken } = (await registered.json()) as { accessToken: string };
  await visit(context, setup, axeSource, {
    name: "verify-email",
    link: await mailedLink(setup, email, "verify-email"),
    done: "Your email address is confirmed",
  });

  await api("/v1/auth/forgot-password", { email });
  const newPassword = `${PASSWORD} anew`;
  await visit(context, setup, axeSource, {
    name: "reset-password",
    link: await mailedLink(setup, email, "reset-password"),
    fill: async (page) => page.getByLabel("New password").fill(newPassword),
    done: "Your password is changed",
  });
  const login = await api("/v1/auth/login", { email, password: newPassword });
  setup.expectThat("the new password signs in", login.status === 200, `status ${login.status}`);

  const newEmail = `pages-new-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const session = (await login.json()) as { accessToken: string };
  await api("/v1/auth/change-email", { newEmail, password: newPassword }, session.accessToken ?? accessToken);
  await visit(context, setup, axeSource, {
    name: "confirm-email",
    link: await mailedLink(setup, newEmail, "confirm-email"),
    done: "Your account now uses this email address",
  });
  await signInByLink(context, setup, axeSource, newEmail);
}

/**
 * A sign-in link asked for on the app's page, followed on the hosted page, and finished back on
 * the app's page by `handleRedirect` (the one-time code and this browser's PKCE verifier).
 */
async function signInByLink(context: BrowserContext, setup: Setup, axeSource: string, email: string) {
  const { expectThat } = setup;
  const page = await context.newPage();
  await page.goto(setup.appUrl);
  await page.waitForSelector("body[data-ready=true]");
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Email me a sign-in link" }).click();
  await page.waitForSelector('li[data-action="emailLogin"]');
  await page.screenshot({ path: path.join(setup.results, "pages-email-login-asked.png"), fullPage: true });

  const link = await mailedLink(setup, email, "email-login");
  const opened = await page.goto(link);
  expectThat(
    "email-login: the mailed link opens a form",
    opened?.status() === 200,
    `status ${opened?.status()}`,
  );
  await accessible(page, axeSource, "email-login form", expectThat);
  await page.screenshot({ path: path.join(setup.results, "pages-email-login-form.png"), fullPage: true });
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.origin === new URL(setup.appUrl).origin);
  await page.waitForSelector('li[data-action="redirect"]');
  const line = (await page.locator('li[data-action="redirect"]').textContent()) ?? "";
  expectThat(
    "email-login: back on the app's page, signed in by handleRedirect",
    line.includes(`signed in as ${email} by redirect`),
    line,
  );
  expectThat("email-login: the code is gone from the address bar", !page.url().includes("code="), page.url());
  await page.screenshot({ path: path.join(setup.results, "pages-email-login-done.png"), fullPage: true });
  await page.close();
}

/** The newest link to `page` mailed to `to`, waiting for the mail to arrive. */
async function mailedLink(setup: Setup, to: string, page: string): Promise<string> {
  const pattern = new RegExp(`https?://\\S+/pages/${setup.appId}/${page}\\?token=[A-Za-z0-9_-]+`);
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await fetch(`${setup.mailgunUrl}/recorded?to=${encodeURIComponent(to)}`);
    const mails = (await response.json()) as { text: string }[];
    for (const mail of mails.reverse()) {
      const match = pattern.exec(mail.text);
      if (match) return match[0];
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no ${page} link mailed to ${to}`);
}

interface Visit {
  name: string;
  link: string;
  fill?: (page: Page) => Promise<void>;
  done: string;
}

async function visit(context: BrowserContext, setup: Setup, axeSource: string, visit: Visit): Promise<void> {
  const { expectThat } = setup;
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  await page.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (event) =>
      console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI));`,
  });
  const opened = await page.goto(visit.link);
  expectThat(
    `${visit.name}: the mailed link opens a form`,
    opened?.status() === 200,
    `status ${opened?.status()}`,
  );
  await page.setViewportSize({ width: 390, height: 700 });
  await accessible(page, axeSource, `${visit.name} form`, expectThat);
  await page.screenshot({ path: path.join(setup.results, `pages-${visit.name}-form.png`), fullPage: true });
  await visit.fill?.(page);
  await page.getByRole("button").click();
  await page.waitForLoadState("load");
  const text = (await page.locator("main").textContent()) ?? "";
  expectThat(
    `${visit.name}: the result page says it worked`,
    text.includes(visit.done),
    text.replace(/\s+/g, " ").trim().slice(0, 120),
  );
  await accessible(page, axeSource, `${visit.name} result`, expectThat);
  await page.screenshot({ path: path.join(setup.results, `pages-${visit.name}-done.png`), fullPage: true });

  expectThat(`${visit.name}: no CSP violation or console error`, problems.length === 0, problems.join("; "));

  // The same link again: the token is spent, and the page says so with its code (a 400, which
  // Chromium reports on the console, so console errors are counted before this).
  await page.goto(visit.link);
  await visit.fill?.(page);
  await page.getByRole("button").click();
  await page.waitForLoadState("load");
  const again = (await page.locator("main").textContent()) ?? "";
  expectThat(
    `${visit.name}: a second use is refused`,
    again.includes("invalid_token"),
    again.replace(/\s+/g, " ").trim().slice(0, 120),
  );
  await page.screenshot({ path: path.join(setup.results, `pages-${visit.name}-replay.png`), fullPage: true });
  await page.close();
}

/** axe-core, evaluated by the driver (a script tag would be refused by the page's CSP). */
async function accessible(page: Page, axeSource: string, what: string, expectThat: Expect): Promise<void> {
  await page.evaluate(axeSource);
  const violations = (await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations;
  })) as { id: string; impact: string | null }[];
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expectThat(
    `${what}: no serious or critical axe-core violation`,
    serious.length === 0,
    violations.map((v) => `${v.id} (${v.impact})`).join(", ") || "none at all",
  );
}
