/**
 * `gravy app provider …` and `gravy app redirect …`: client secrets sealed under
 * ENCRYPTION_KEY (and resealed by `keys rotate-encryption`), exact return URLs.
 */

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { withDevelopmentSecrets } from "../src/cli/dev-secrets";
import { open } from "../src/crypto/seal";
import { emptyFolder, gravy, gravyJson, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const KEY = "the-encryption-key-of-the-oauth-tests-0123456789";
const NEXT = "the-encryption-key-after-the-oauth-tests-987654";
const env = { DATABASE_URL: url, ENCRYPTION_KEY: KEY };

await gravy(["app", "add", "portal", "--name", "Portal", "--url", "https://portal.example.com"], env);

interface Listed {
  providers: { provider: string; clientId: string; issuer: string | null; scopes: string }[];
}

async function storedSecret(provider: string): Promise<string> {
  const [row] = await query<{ sealed: string }>(
    url,
    "select client_secret_sealed as sealed from oauth_providers where app_id = 'portal' and provider = $1",
    [provider],
  );
  return row?.sealed ?? "";
}

describe("gravy app provider", () => {
  it("adds providers with sealed secrets and lists them without", async () => {
    const added = await gravy(
      ["app", "provider", "add", "portal", "google", "--client-id", "g-id", "--client-secret", "g-secret"],
      env,
    );
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('Enabled google sign-in for app "portal".');
    expect(added.stdout).toContain("/v1/auth/oauth/google/callback");
    const oidc = await gravy(
      [
        "app",
        "provider",
        "add",
        "portal",
        "oidc",
        "--client-id",
        "o-id",
        "--client-secret",
        "o-secret",
        "--issuer",
        "https://id.example.com/",
        "--scopes",
        "openid,email",
      ],
      env,
    );
    expect(oidc.code).toBe(0);
    const sealed = await storedSecret("google");
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain("g-secret");
    const opened = await open(
      { current: KEY, previous: undefined },
      "oauth-client-secret",
      sealed,
      "portal/google",
    );
    expect(new TextDecoder().decode(opened.plaintext)).toBe("g-secret");

    const { providers } = await gravyJson<Listed>(["app", "provider", "list", "portal"], env);
    expect(providers).toEqual([
      expect.objectContaining({
        provider: "google",
        clientId: "g-id",
        issuer: null,
        scopes: "openid email profile",
      }),
      expect.objectContaining({
        provider: "oidc",
        clientId: "o-id",
        issuer: "https://id.example.com",
        scopes: "openid email",
      }),
    ]);
    expect(JSON.stringify(providers)).not.toContain("secret");
  });

  it("replaces a provider's settings when added again", async () => {
    const again = await gravy(
      [
        "app",
        "provider",
        "add",
        "portal",
        "google",
        "--client-id",
        "g-id-2",
        "--client-secret",
        "g-secret-2",
      ],
      env,
    );
    expect(again.stdout).toContain("Updated google sign-in");
    const { providers } = await gravyJson<Listed>(["app", "provider", "list", "portal"], env);
    expect(providers.find((row) => row.provider === "google")?.clientId).toBe("g-id-2");
  });

  it("refuses bad input with one line", async () => {
    const cases: [string[], string][] = [
      [
        ["app", "provider", "add", "portal", "myspace", "--client-id", "x", "--client-secret", "y"],
        "must be one of",
      ],
      [
        ["app", "provider", "add", "portal", "oidc", "--client-id", "x", "--client-secret", "y"],
        "--issuer is required",
      ],
      [["app", "provider", "add", "portal", "google", "--client-secret", "y"], "--client-id is required"],
      [["app", "provider", "add", "portal", "google", "--client-id", "x"], "--client-secret"],
      [
        [
          "app",
          "provider",
          "add",
          "portal",
          "oidc",
          "--client-id",
          "x",
          "--client-secret",
          "y",
          "--issuer",
          "http://id.example.com",
        ],
        "must be an https URL",
      ],
      [
        ["app", "provider", "add", "nope", "google", "--client-id", "x", "--client-secret", "y"],
        'No app "nope"',
      ],
      [["app", "provider", "remove", "portal", "github"], 'has no provider "github"'],
    ];
    for (const [argv, message] of cases) {
      const result = await gravy(argv, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(message);
    }
  });

  it("needs ENCRYPTION_KEY to store a secret", async () => {
    const result = await gravy(
      ["app", "provider", "add", "portal", "github", "--client-id", "x", "--client-secret", "y"],
      { DATABASE_URL: url },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("ENCRYPTION_KEY");
  });

  it("uses the development ENCRYPTION_KEY of `npm start` when it is unset, outside production only", async () => {
    await gravy(["app", "add", "local", "--name", "Local", "--url", "http://localhost:5173"], env);
    const cwd = await emptyFolder();
    await mkdir(path.join(cwd, ".turkey"));
    const devKey = "dev-encryption-key-generated-by-npm-start-0123";
    await writeFile(path.join(cwd, ".turkey", "dev-encryption-key"), `${devKey}\n`);
    const args = ["app", "provider", "add", "local", "github", "--client-id", "x", "--client-secret", "y"];
    expect((await gravy(args, { DATABASE_URL: url }, cwd)).code).toBe(0);
    const [row] = await query<{ sealed: string }>(
      url,
      "select client_secret_sealed as sealed from oauth_providers where app_id = 'local' and provider = 'github'",
    );
    const opened = await open(
      { current: devKey, previous: undefined },
      "oauth-client-secret",
      row?.sealed ?? "",
      "local/github",
    );
    expect(new TextDecoder().decode(opened.plaintext)).toBe("y");
    // In production the file is never read.
    expect(withDevelopmentSecrets({ NODE_ENV: "production" }, cwd)).toEqual({ NODE_ENV: "production" });
    expect(withDevelopmentSecrets({}, cwd)).toMatchObject({ ENCRYPTION_KEY: devKey });
    // Sealed under another key than the suite's: gone before the suite reseals everything.
    expect((await gravy(["app", "remove", "local"], env)).code).toBe(0);
  });

  it("reseals client secrets with keys rotate-encryption", async () => {
    const rotated = await gravy(["keys", "rotate-encryption"], {
      DATABASE_URL: url,
      ENCRYPTION_KEY: NEXT,
      ENCRYPTION_KEY_PREVIOUS: KEY,
    });
    expect(rotated.code).toBe(0);
    const opened = await open(
      { current: NEXT, previous: undefined },
      "oauth-client-secret",
      await storedSecret("google"),
      "portal/google",
    );
    expect(new TextDecoder().decode(opened.plaintext)).toBe("g-secret-2");
  });

  it("removes a provider", async () => {
    expect((await gravy(["app", "provider", "remove", "portal", "oidc"], env)).code).toBe(0);
    const { providers } = await gravyJson<Listed>(["app", "provider", "list", "portal"], env);
    expect(providers.map((row) => row.provider)).toEqual(["google"]);
  });
});

describe("gravy app redirect", () => {
  it("adds, lists and removes exact return URLs", async () => {
    const target = "https://portal.example.com/auth/return";
    expect((await gravy(["app", "redirect", "add", "portal", target], env)).stdout).toContain(
      "may now return",
    );
    expect((await gravy(["app", "redirect", "add", "portal", target], env)).stdout).toContain("already had");
    const listed = await gravyJson<{ redirects: { url: string }[] }>(
      ["app", "redirect", "list", "portal"],
      env,
    );
    expect(listed.redirects.map((row) => row.url)).toEqual([target]);
    expect((await gravy(["app", "redirect", "remove", "portal", target], env)).code).toBe(0);
    const after = await gravyJson<{ redirects: unknown[] }>(["app", "redirect", "list", "portal"], env);
    expect(after.redirects).toEqual([]);
  });

  it("refuses URLs that could never match exactly", async () => {
    const cases: [string, string][] = [
      ["/relative", "absolute"],
      ["ftp://portal.example.com/x", "http(s)"],
      ["https://portal.example.com/x#frag", "#fragment"],
      ["https://Portal.example.com/x", "Write the return URL as https://portal.example.com/x"],
      ["https://portal.example.com", "Write the return URL as https://portal.example.com/"],
    ];
    for (const [target, message] of cases) {
      const result = await gravy(["app", "redirect", "add", "portal", target], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(message);
    }
  });
});
