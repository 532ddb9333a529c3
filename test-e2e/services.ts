/**
 * The server side of the browser check: an embedded PostgreSQL and the Worker under
 * `wrangler dev`, as `npm start` runs it, on free ports in 57000–57999. Everything started here
 * registers its stop in the caller's cleanup list.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildDocsAssets } from "../scripts/docs-assets";
import { startEmbeddedPostgres } from "../src/cli/embedded-postgres";
import { applyMigrations, ensureApp } from "../src/db/migrate";
import { FAKE_MAILGUN_DOMAIN, FAKE_MAILGUN_KEY, startFakeMailgun } from "../test/support/fake-mailgun";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export type Cleanup = () => Promise<void>;

const PORT_ROLES = ["dbPort", "workerPort", "inspectorPort", "allowedPort", "blockedPort"] as const;
export type Ports = Record<(typeof PORT_ROLES)[number], number>;

/** A port in our range that nothing listens on right now. */
export async function freePort(): Promise<number> {
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

/** One distinct free port per role. */
export async function distinctPorts(): Promise<Ports> {
  const taken = new Set<number>();
  const ports = {} as Ports;
  for (const role of PORT_ROLES) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports[role] = port;
  }
  return ports;
}

/** `wrangler dev` in its own process group, so the group (npx, wrangler, workerd) can be stopped. */
function startWorker(dir: string, port: number, inspectorPort: number, envFile: string, databaseUrl: string) {
  const log = openSync(path.join(dir, "wrangler.log"), "a");
  const args = ["wrangler", "dev", "--port", String(port), "--ip", "127.0.0.1"];
  args.push("--inspector-port", String(inspectorPort), "--env-file", envFile);
  args.push("--persist-to", path.join(dir, "wrangler-state"), "--show-interactive-dev-session=false");
  // As `npm start`: the Worker sees its real local address, which the hosted pages' links use.
  args.push("--infer-origin-from-routes=false");
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
function workerEnv(allowedOrigin: string, mailgunUrl: string, encryptionKey: string): string {
  const vars = {
    MAILGUN_API_KEY: FAKE_MAILGUN_KEY,
    MAILGUN_DOMAIN: FAKE_MAILGUN_DOMAIN,
    MAILGUN_API_BASE: mailgunUrl,
    NODE_ENV: "development",
    JWT_SECRET: randomBytes(48).toString("base64url"),
    ENCRYPTION_KEY: encryptionKey,
    ALLOWED_ORIGINS: allowedOrigin,
    RATE_LIMIT_MAX_REQUESTS: "10000",
  };
  return Object.entries(vars)
    .map(([key, value]) => `${key}=${value}`)
    .join("\n");
}

export interface Backend {
  databaseUrl: string;
  workerUrl: string;
  /** The fake Mailgun the Worker sends through; `GET /recorded?to=` reads a recipient's mail. */
  mailgunUrl: string;
  /** The Worker's ENCRYPTION_KEY, to seal what the check stores for it (a provider's secret). */
  encryptionKey: string;
}

/**
 * A migrated database with the app registered, and the Worker serving it with `allowedOrigin`
 * as its only CORS origin, hosted pages on, and mail going to a fake Mailgun; resolves once
 * `/health` answers 200.
 */
export async function startBackend(
  dir: string,
  ports: Ports,
  app: { id: string; allowedOrigin: string },
  cleanups: Cleanup[],
): Promise<Backend> {
  const database = await startEmbeddedPostgres({
    dataDir: path.join(dir, "pg"),
    port: ports.dbPort,
    database: "turkey_e2e",
    persistent: false,
  });
  cleanups.push(() => database.stop());
  await applyMigrations(database.url);
  await ensureApp(database.url, {
    id: app.id,
    name: "Browser check",
    url: app.allowedOrigin,
    hostedPages: true,
    emailLogin: true,
  });
  const mailgun = await startFakeMailgun();
  cleanups.push(() => mailgun.close());

  const envFile = path.join(dir, "worker.env");
  const encryptionKey = randomBytes(48).toString("base64url");
  await writeFile(envFile, workerEnv(app.allowedOrigin, mailgun.url, encryptionKey), { mode: 0o600 });
  await buildDocsAssets(); // the /docs page's files, served by wrangler as static assets
  const worker = startWorker(dir, ports.workerPort, ports.inspectorPort, envFile, database.url);
  cleanups.push(stopProcessGroup(worker));
  const workerUrl = `http://127.0.0.1:${ports.workerPort}`;
  await waitForHealth(workerUrl, worker, path.join(dir, "wrangler.log"));
  return { databaseUrl: database.url, workerUrl, mailgunUrl: mailgun.url, encryptionKey };
}
