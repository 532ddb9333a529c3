/**
 * End to end in a real browser: the built SDK (dist/sdk) in headless Chromium against the
 * Worker under `wrangler dev` and an embedded PostgreSQL. One page origin is in
 * ALLOWED_ORIGINS and must complete the whole sign-in cycle; the same page from a second
 * origin must be stopped by CORS. The API reference page (/docs) must render under its
 * Content-Security-Policy (docs-page.ts). Run with `npm run test:browser` (builds the SDK first).
 *
 * Everything it starts (database, Worker, page servers, browser) lives in its own temp
 * folder and ports 57000–57999, and is stopped on every exit path.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { buildDocsAssets } from "../scripts/docs-assets";
import { startEmbeddedPostgres } from "../src/cli/embedded-postgres";
import { applyMigrations, ensureApp } from "../src/db/migrate";
import { checkDocsPage } from "./docs-page";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const APP_ID = "browser-e2e";
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
const SCREENSHOT = path.join(ROOT, "test-results", "browser.png");

type Cleanup = () => Promise<void>;

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

interface PageStep {
  step: string;
  ok: boolean;
  code: string;
  text: string;
}

const checks: Check[] = [];

function expectThat(name: string, ok: boolean, detail = ""): void {
  checks.push({ name, ok, detail });
  console.log(`${ok ? "  ✓" : "  ✗"} ${name}${detail ? ` — ${detail}` : ""}`);
}

/** A port in our range that nothing listens on right now. */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 57_000 + Math.floor(Math.random() * 1000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port in 57000–57999");
}

/** Serves the test page, its script and the built SDK; every other path is a 404. */
async function servePage(port: number): Promise<Server> {
  const files: Record<string, [string, string]> = {
    "/": ["test-e2e/page.html", "text/html; charset=utf-8"],
    "/page.js": ["test-e2e/page.js", "text/javascript"],
    "/sdk.js": ["dist/sdk/index.js", "text/javascript"],
  };
  const server = createServer(async (request, response) => {
    const file = files[new URL(request.url ?? "/", "http://page").pathname];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    const body = await readFile(path.join(ROOT, file[0]));
    response.writeHead(200, { "content-type": file[1], "cache-control": "no-store" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

function closeServer(server: Server): Cleanup {
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

/** `wrangler dev` in its own process group, so the group (npx, wrangler, workerd) can be stopped. */
function startWorker(dir: string, port: number, inspectorPort: number, envFile: string, databaseUrl: string) {
  const log = openSync(path.join(dir, "wrangler.log"), "a");
  const args = ["wrangler", "dev", "--port", String(port), "--ip", "127.0.0.1"];
  args.push("--inspector-port", String(inspectorPort), "--env-file", envFile);
  args.push("--persist-to", path.join(dir, "wrangler-state"), "--show-interactive-dev-session=false");
  return spawn("npx", args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", log, log],
    env: {
      ...process.env,
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: databaseUrl,
      WRANGLER_SEND_METRICS: "false",
    },
  });
}

function stopProcessGroup(child: ChildProcess): Cleanup {
  return async () => {
    if (child.pid === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), name);
      } catch {
        // Already gone.
      }
    };
    signal("SIGTERM");
    const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 10_000));
    if ((await Promise.race([exited, timeout])) === "timeout") signal("SIGKILL");
  };
}

async function waitForHealth(url: string, worker: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (worker.exitCode !== null) break;
    const status = await fetch(`${url}/health`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const log = await readFile(logFile, "utf8").catch(() => "");
  throw new Error(`the Worker did not become healthy at ${url}:\n${log.split("\n").slice(-30).join("\n")}`);
}

/** The env file wrangler reads; values are plain tokens, so no quoting is needed. */
function workerEnv(allowedOrigin: string): string {
  const vars = {
    NODE_ENV: "development",
    JWT_SECRET: randomBytes(48).toString("base64url"),
    ALLOWED_ORIGINS: allowedOrigin,
    RATE_LIMIT_MAX_REQUESTS: "10000",
  };
  return Object.entries(vars)
    .map(([key, value]) => `${key}=${value}`)
    .join("\n");
}

async function readSteps(page: Page): Promise<PageStep[]> {
  await page.waitForSelector("body[data-done]", { timeout: 60_000 });
  const steps: PageStep[] = [];
  for (const item of await page.locator("li[data-step]").all()) {
    steps.push({
      step: (await item.getAttribute("data-step")) ?? "",
      ok: (await item.getAttribute("data-ok")) === "true",
      code: (await item.getAttribute("data-code")) ?? "",
      text: (await item.textContent()) ?? "",
    });
  }
  return steps;
}

async function openPage(
  context: BrowserContext,
  url: string,
): Promise<{ page: Page; consoleLines: string[] }> {
  const page = await context.newPage();
  const consoleLines: string[] = [];
  page.on("console", (message) => consoleLines.push(message.text()));
  page.on("pageerror", (error) => consoleLines.push(`pageerror: ${error.message}`));
  await page.goto(url);
  return { page, consoleLines };
}

const EXPECTED_STEPS = ["register", "login", "getUser", "refresh", "listSessions", "logout", "events"];

async function checkAllowedOrigin(context: BrowserContext, pageUrl: string): Promise<void> {
  console.log(`\nallowed origin ${new URL(pageUrl).origin}`);
  const { page, consoleLines } = await openPage(context, pageUrl);
  const steps = await readSteps(page);
  for (const name of EXPECTED_STEPS) {
    const step = steps.find((candidate) => candidate.step === name);
    expectThat(`page step ${name}`, step?.ok === true, step?.text ?? "not reached");
  }
  const errors = consoleLines.filter((line) => /error|blocked/i.test(line));
  expectThat("no console errors", errors.length === 0, errors.join(" | "));
  await mkdir(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  console.log(`  screenshot: ${path.relative(ROOT, SCREENSHOT)}`);
}

async function checkBlockedOrigin(context: BrowserContext, pageUrl: string): Promise<void> {
  console.log(`\nblocked origin ${new URL(pageUrl).origin}`);
  const { page, consoleLines } = await openPage(context, pageUrl);
  const steps = await readSteps(page);
  const first = steps[0];
  expectThat(
    "register fails with network_error",
    first?.step === "register" && first.code === "network_error",
    first?.text,
  );
  expectThat("it stops there", steps.length === 1, `${steps.length} steps reported`);
  const cors = consoleLines.find((line) => line.includes("CORS policy"));
  expectThat("the browser blamed CORS", cors !== undefined, cors?.slice(0, 120));
  await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, "-blocked.png"), fullPage: true });
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
        "Access-Control-Request-Headers": "content-type,x-app-id",
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

/** Only the allowed page may have created a user: the blocked page's POST never left the browser. */
async function checkUsers(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    const result = await client.query("select count(*)::int as n from users where app_id = $1", [APP_ID]);
    const count = Number(result.rows[0]?.n);
    expectThat("exactly one user registered", count === 1, `${count} in ${APP_ID}`);
  } finally {
    await client.end();
  }
}

async function run(cleanups: Cleanup[]): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "turkey-e2e-"));
  // As root, Postgres runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));

  const { dbPort, workerPort, inspectorPort, allowedPort, blockedPort } = await distinctPorts();
  const database = await startEmbeddedPostgres({
    dataDir: path.join(dir, "pg"),
    port: dbPort,
    database: "turkey_e2e",
    persistent: false,
  });
  cleanups.push(() => database.stop());
  await applyMigrations(database.url);
  const allowed = `http://127.0.0.1:${allowedPort}`;
  const blocked = `http://127.0.0.1:${blockedPort}`;
  await ensureApp(database.url, { id: APP_ID, name: "Browser check", url: allowed });

  const envFile = path.join(dir, "worker.env");
  await writeFile(envFile, workerEnv(allowed), { mode: 0o600 });
  await buildDocsAssets();
  const worker = startWorker(dir, workerPort, inspectorPort, envFile, database.url);
  cleanups.push(stopProcessGroup(worker));
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  console.log(`starting the Worker on ${workerUrl} (database on port ${dbPort}) …`);
  await waitForHealth(workerUrl, worker, path.join(dir, "wrangler.log"));

  for (const port of [allowedPort, blockedPort]) cleanups.push(closeServer(await servePage(port)));

  const context = await chromium.launchPersistentContext(path.join(dir, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  cleanups.push(() => context.close());

  const query = `/?api=${encodeURIComponent(workerUrl)}&app=${APP_ID}`;
  await checkAllowedOrigin(context, `${allowed}${query}`);
  await checkBlockedOrigin(context, `${blocked}${query}`);
  await checkPreflights(workerUrl, allowed, blocked);
  await checkUsers(database.url);
  await checkDocsPage(context, workerUrl, path.join(path.dirname(SCREENSHOT), "docs.png"), expectThat);
}

const PORT_ROLES = ["dbPort", "workerPort", "inspectorPort", "allowedPort", "blockedPort"] as const;

/** One distinct free port per role. */
async function distinctPorts(): Promise<Record<(typeof PORT_ROLES)[number], number>> {
  const taken = new Set<number>();
  const ports = {} as Record<(typeof PORT_ROLES)[number], number>;
  for (const role of PORT_ROLES) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports[role] = port;
  }
  return ports;
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
