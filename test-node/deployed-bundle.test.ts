/**
 * The bundle `wrangler deploy` uploads hashes passwords under workerd. Workers refuse to compile
 * WebAssembly at run time, so the Argon2 module must arrive as a bundled .wasm module: this
 * builds with `wrangler deploy --dry-run`, serves exactly that output with `wrangler dev
 * --no-bundle`, and registers and signs in against a real Postgres — with a password, and with
 * a passkey, so the WebAuthn library is proven to bundle and verify signatures under workerd.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ASSETS_DIR, buildDocsAssets } from "../scripts/docs-assets";
import { type CreationOptions, type RequestOptions, SoftwareAuthenticator } from "../test/support/webauthn";
import { closedPort, emptyFolder, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
await query(url, "insert into apps (id, name, url) values ('bundle', 'Bundle', 'https://bundle.example')");
const dir = await emptyFolder();
const running: ChildProcess[] = [];

afterAll(() => {
  for (const child of running) stopGroup(child);
});

function run(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn("npx", args, {
    detached: true, // its own process group: wrangler starts workerd processes of its own
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(child);
  return child;
}

function stopGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

async function build(outdir: string): Promise<void> {
  await buildDocsAssets();
  const child = run(["wrangler", "deploy", "--dry-run", "--config", "wrangler.toml", "--outdir", outdir]);
  let output = "";
  child.stderr?.on("data", (chunk) => {
    output += String(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed: ${output}`);
}

/** wrangler dev on the built entry and a copy of the configuration, until /health answers. */
async function serve(outdir: string): Promise<string> {
  const port = await closedPort();
  const config = path.join(dir, "wrangler.toml");
  await copyFile("wrangler.toml", config);
  const envFile = path.join(dir, "worker.env");
  await writeFile(
    envFile,
    "NODE_ENV=development\nJWT_SECRET=a-bundle-test-secret-that-is-long-enough-0123\n",
  );
  // Miniflare's Hyperdrive insists on a password; a server trusting local connections ignores it.
  const database = new URL(url);
  database.password ||= "unused";
  run(
    [
      ...["wrangler", "dev", path.join(outdir, "index.js"), "--no-bundle", "--config", config],
      // The copied configuration's relative assets directory would not resolve from its folder.
      ...["--assets", ASSETS_DIR],
      ...["--env-file", envFile, "--ip", "127.0.0.1", "--port", String(port)],
      ...["--inspector-port", String(await closedPort()), "--persist-to", path.join(dir, "state")],
      "--show-interactive-dev-session=false",
    ],
    {
      CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: database.toString(),
      WRANGLER_REGISTRY_PATH: path.join(dir, "registry"),
    },
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${base}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return base;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error("wrangler dev did not serve the bundle within 90 s");
}

const post = (base: string, route: string, body: unknown, token?: string) =>
  fetch(`${base}${route}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-app-id": "bundle",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });

/** Adds a passkey made by a software authenticator, then signs in with it alone. */
async function signInWithPasskey(base: string, accessToken: string): Promise<Record<string, unknown>> {
  const authenticator = new SoftwareAuthenticator("https://bundle.example");
  const creation = (await (
    await post(base, "/v1/auth/passkeys/register/options", {}, accessToken)
  ).json()) as CreationOptions;
  const created = await authenticator.create(creation);
  const stored = await post(base, "/v1/auth/passkeys/register/verify", { response: created }, accessToken);
  expect(stored.status).toBe(201);
  const request = (await (await post(base, "/v1/auth/passkeys/login/options", {})).json()) as RequestOptions;
  const signedIn = await post(base, "/v1/auth/passkeys/login/verify", {
    response: await authenticator.get(request),
  });
  expect(signedIn.status).toBe(200);
  return (await signedIn.json()) as Record<string, unknown>;
}

describe("the deployed bundle", () => {
  it("carries the Argon2 module as a .wasm file and hashes with it under workerd", {
    timeout: 180_000,
  }, async () => {
    const outdir = path.join(dir, "build");
    await build(outdir);
    const wasm = (await readdir(outdir)).filter((file) => file.endsWith(".wasm"));
    expect(wasm).toHaveLength(1);
    // Imported as a module by the entry, never compiled from bytes at run time.
    expect(await readFile(path.join(outdir, "index.js"), "utf8")).toContain(`from"./${wasm[0]}"`);

    const base = await serve(outdir);
    const email = "bundle@example.com";
    const password = "correct horse battery staple";
    expect((await post(base, "/v1/auth/register", { email, password })).status).toBe(201);
    const [user] = await query<{ password_hash: string }>(
      url,
      "select password_hash from users where email = $1",
      [email],
    );
    expect(user?.password_hash).toMatch(
      /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
    );
    const login = await post(base, "/v1/auth/login", { email, password });
    expect(login.status).toBe(200);
    expect((await post(base, "/v1/auth/login", { email, password: "wrong password" })).status).toBe(401);

    const { accessToken } = (await login.json()) as { accessToken: string };
    const passkeyTokens = await signInWithPasskey(base, accessToken);
    expect(passkeyTokens.user).toMatchObject({ email });
  });
});
