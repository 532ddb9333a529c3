/**
 * The SDK as an app gets it: `npm pack` of packages/sdk, installed from the tarball into a
 * fresh Vite + TypeScript app in a temp folder, type-checked against the installed
 * declarations, built by Vite, and served as static files.
 *
 * The app lives outside the repository and its node_modules holds only the installed tarball,
 * so its `@turkey/sdk` can never resolve to the workspace's source. Vite and tsc are the
 * repository's own, run on the app's folder: they are build tools, not code the app ships,
 * and borrowing them keeps the check off the registry (the tarball has no dependencies, so
 * the install runs with --offline).
 */
import { execFile } from "node:child_process";
import { cp, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TEMPLATE = path.join(ROOT, "test-e2e", "sample-app");
const SDK_NAME = "@turkey/sdk";

export interface PackedSdk {
  /** Absolute path of the .tgz. */
  tarball: string;
  id: string;
  size: number;
  files: { path: string; size: number }[];
}

export interface BuiltApp {
  appDir: string;
  /** Vite's output folder, to be served as static files. */
  distDir: string;
  /** The package.json that came out of the tarball. */
  installedManifest: Record<string, unknown>;
}

const execFileAsync = promisify(execFile);

/** Runs a tool to its end and returns its stdout; on failure the error carries its output. */
async function runTool(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  try {
    const options = { cwd, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 };
    const { stdout } = await execFileAsync(command, args, options);
    return stdout;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    const output = `${stdout}\n${stderr}`.trim().split("\n").slice(-30).join("\n");
    throw new Error(`${command} ${args.join(" ")} failed:\n${output}`);
  }
}

/** `npm pack` of the SDK workspace (its prepack script builds dist/ first). */
export async function packSdk(dir: string): Promise<PackedSdk> {
  const args = ["pack", "--workspace", SDK_NAME, "--json", "--pack-destination", dir];
  const [entry] = JSON.parse(await runTool("npm", args, ROOT)) as (Omit<PackedSdk, "tarball"> & {
    filename: string;
  })[];
  if (!entry) throw new Error("npm pack reported no package");
  return { tarball: path.join(dir, entry.filename), id: entry.id, size: entry.size, files: entry.files };
}

/**
 * Creates the app from test-e2e/sample-app, installs the tarball into it and builds it with
 * the Worker's address and the app id in its `.env`, as Vite apps take their settings.
 */
export async function buildSampleApp(
  dir: string,
  tarball: string,
  settings: { turkeyUrl: string; appId: string },
): Promise<BuiltApp> {
  const appDir = path.join(dir, "sample-app");
  await cp(TEMPLATE, appDir, { recursive: true });
  const manifest = {
    name: "turkey-sample-app",
    private: true,
    type: "module",
    dependencies: { [SDK_NAME]: `file:${tarball}` },
  };
  await writeFile(path.join(appDir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(
    path.join(appDir, ".env"),
    `VITE_TURKEY_URL=${settings.turkeyUrl}\nVITE_TURKEY_APP_ID=${settings.appId}\n`,
  );
  await runTool("npm", ["install", "--offline", "--no-audit", "--no-fund"], appDir);
  await runTool("npx", ["tsc", "-p", appDir], ROOT);
  await runTool("npx", ["vite", "build", appDir, "--logLevel", "warn"], ROOT);
  const installed = path.join(appDir, "node_modules", SDK_NAME, "package.json");
  return {
    appDir,
    distDir: path.join(appDir, "dist"),
    installedManifest: JSON.parse(await readFile(installed, "utf8")) as Record<string, unknown>,
  };
}

/** Runs the app's backend.mjs, which checks `accessToken` with TurKeyServer; its claims or null. */
export async function verifyInBackend(
  app: BuiltApp,
  settings: { turkeyUrl: string; appId: string },
  accessToken: string,
): Promise<{ sub?: string; email?: string; aud?: string } | null> {
  const env = { TURKEY_URL: settings.turkeyUrl, TURKEY_APP_ID: settings.appId, ACCESS_TOKEN: accessToken };
  return JSON.parse(await runTool(process.execPath, ["backend.mjs"], app.appDir, env));
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
};

/** Serves the built files as any static host would; everything else is a 404. */
export async function serveStatic(distDir: string, port: number): Promise<Server> {
  const server = createServer(async (request, response) => {
    const pathname = new URL(request.url ?? "/", "http://app").pathname;
    const file = path.join(distDir, pathname === "/" ? "index.html" : pathname);
    const type = CONTENT_TYPES[path.extname(file)];
    const body = file.startsWith(distDir + path.sep) && type ? await readFile(file).catch(() => null) : null;
    if (!body) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": type ?? "", "cache-control": "no-store" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}
