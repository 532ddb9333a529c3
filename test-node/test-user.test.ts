/** `gravy dev create-test-user`: a verified user whose tokens the Worker accepts. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { verifyAccessToken } from "../src/auth/access-tokens";
import { verifyPassword } from "../src/auth/passwords";
import { hashSecretToken } from "../src/auth/secrets";
import type { TestUser } from "../src/cli/test-user";
import { emptyFolder, gravy, gravyJson, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789";
const env = { DATABASE_URL: url, JWT_SECRET: SECRET };
await query(
  url,
  "insert into apps (id, name, url) values ('demo', 'Demo', 'http://localhost:3000'), ('shop', 'Shop', 'https://shop.example')",
);

describe("dev create-test-user", () => {
  it("creates a verified user whose access token verifies like the Worker's", async () => {
    const created = await gravyJson<TestUser>(
      [
        "dev",
        "create-test-user",
        "--app",
        "shop",
        "--email",
        " Ada@Example.com ",
        "--password",
        "correct horse battery",
      ],
      env,
    );
    expect(created).toMatchObject({
      email: "ada@example.com",
      password: "correct horse battery",
      tokenType: "Bearer",
    });
    expect(created.user).toMatchObject({ appId: "shop", email: "ada@example.com", emailVerified: true });

    const claims = await verifyAccessToken(
      created.accessToken,
      { secret: SECRET, issuer: "turkey" },
      "shop",
      new Date(),
    );
    expect(claims).toMatchObject({
      sub: created.user.id,
      aud: "shop",
      email: "ada@example.com",
      email_verified: true,
    });
    expect(claims.exp - claims.iat).toBe(900);

    const [session] = await query<{ access_jti: string; session_id: string; revoked_at: null }>(
      url,
      "select access_jti, session_id, revoked_at from refresh_tokens where token_hash = $1 and app_id = 'shop'",
      [hashSecretToken(created.refreshToken)],
    );
    expect(session).toEqual({ access_jti: claims.jti, session_id: claims.sid, revoked_at: null });

    const [user] = await query<{ email_verified: boolean; password_hash: string }>(
      url,
      "select email_verified, password_hash from users where id = $1",
      [created.user.id],
    );
    expect(user?.email_verified).toBe(true);
    expect((await verifyPassword("correct horse battery", user?.password_hash ?? "")).ok).toBe(true);
  });

  it("defaults to the app demo with a generated email and password, and prints them", async () => {
    const result = await gravy(["dev", "create-test-user"], env);
    expect(result.code).toBe(0);
    const field = (label: string) => new RegExp(`^${label}:\\s+(\\S+)$`, "m").exec(result.stdout)?.[1];
    expect(field("App")).toBe("demo");
    expect(field("Email")).toMatch(/^test-[0-9a-f]{8}@example\.com$/);
    expect(field("Password")?.length).toBeGreaterThanOrEqual(24);
    const token = field("Access token") ?? "";
    await expect(
      verifyAccessToken(token, { secret: SECRET, issuer: "turkey" }, "demo", new Date()),
    ).resolves.toBeDefined();
  });

  it("signs with the Worker's issuer and lifetimes", async () => {
    const created = await gravyJson<TestUser>(["dev", "create-test-user"], {
      ...env,
      JWT_ISSUER: "https://auth.example.com",
      JWT_ACCESS_EXPIRES_IN: "5m",
    });
    const claims = await verifyAccessToken(
      created.accessToken,
      { secret: SECRET, issuer: "https://auth.example.com" },
      "demo",
      new Date(),
    );
    expect(claims.exp - claims.iat).toBe(300);
  });

  it("uses the development secret of `npm start` when JWT_SECRET is unset", async () => {
    const cwd = await emptyFolder();
    await mkdir(path.join(cwd, ".turkey"));
    await writeFile(
      path.join(cwd, ".turkey", "dev-jwt-secret"),
      "dev-secret-generated-by-npm-start-0123456789\n",
    );
    const created = await gravyJson<TestUser>(["dev", "create-test-user"], { DATABASE_URL: url }, cwd);
    const key = { secret: "dev-secret-generated-by-npm-start-0123456789", issuer: "turkey" };
    await expect(verifyAccessToken(created.accessToken, key, "demo", new Date())).resolves.toBeDefined();
  });

  it("explains what is wrong in one line", async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [["dev", "create-test-user"], { DATABASE_URL: url }, "Invalid configuration: JWT_SECRET is required\n"],
      [["dev", "create-test-user", "--app", "nope"], env, 'Unknown app "nope" (see `gravy app list`)\n'],
      [
        ["dev", "create-test-user", "--password", "short"],
        env,
        "password: must have at least 8 characters\n",
      ],
      [
        ["dev", "create-test-user", "--app", "shop", "--email", "ada@example.com"],
        env,
        'ada@example.com already has an account in app "shop"\n',
      ],
    ];
    for (const [argv, variables, message] of cases) {
      const result = await gravy(argv, variables);
      expect(result).toEqual({ code: 1, stdout: "", stderr: message });
    }
  });
});
