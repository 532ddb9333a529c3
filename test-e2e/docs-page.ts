/**
 * The /docs page in headless Chromium, served by `wrangler dev` as it is deployed (the page
 * from the Worker, Swagger UI from Workers Static Assets): it must list every operation of
 * /openapi.json, load nothing from another origin, and run under its Content-Security-Policy
 * without a single violation or console error. Leaves a screenshot in test-results/.
 */
import path from "node:path";
import type { BrowserContext } from "playwright-core";

type Expect = (name: string, ok: boolean, detail?: string) => void;

const METHODS = new Set(["get", "post", "put", "patch", "delete"]);

export async function checkDocsPage(
  context: BrowserContext,
  workerUrl: string,
  screenshot: string,
  expectThat: Expect,
): Promise<void> {
  console.log("\nreference page /docs");
  const spec = (await (await fetch(`${workerUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const operations = Object.values(spec.paths).flatMap((item) =>
    Object.keys(item).filter((m) => METHODS.has(m)),
  );

  const page = await context.newPage();
  const problems: string[] = [];
  const foreign: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(`${workerUrl}/`) && !url.startsWith("data:")) foreign.push(url);
  });
  // Reports violations however the browser words them (injected by the driver, so the CSP
  // does not apply to it).
  await page.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (event) =>
      console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI));`,
  });
  await page.goto(`${workerUrl}/docs`);
  await page.waitForSelector(".opblock", { timeout: 30_000 });
  const listed = await page.locator(".opblock").count();
  expectThat("every operation is listed", listed === operations.length, `${listed} of ${operations.length}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`  screenshot: ${path.relative(process.cwd(), screenshot)}`);

  // Open sign-in, so its body schema and answers render too.
  await page
    .locator(".opblock-post", { hasText: "/v1/auth/login" })
    .first()
    .locator(".opblock-summary")
    .click();
  await page.waitForSelector(".opblock.is-open .responses-table", { timeout: 10_000 });
  const answers = await page.locator(".opblock.is-open .response-col_status").allInnerTexts();
  expectThat(
    "sign-in shows its answers",
    answers.some((text) => text.includes("429")),
    answers.join(" "),
  );

  expectThat("no console errors and no CSP violations", problems.length === 0, problems.join(" | "));
  expectThat("nothing loaded from another origin", foreign.length === 0, foreign.join(" "));
  await page.close();
}
