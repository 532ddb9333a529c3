/**
 * Stored hashes follow the configuration through the login code: an scrypt account is moved to
 * Argon2id by its next successful login, a peppered one to the new pepper after a rotation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import type { Bindings } from "../src/context";
import { createTestApp, errorCode, PASSWORD, uniqueEmail } from "./support/fixtures";
import { openTestDatabase, postJson, send } from "./support/worker";

const app = createApp();
const PEPPER_A = "pepper-a-of-at-least-32-characters-000000000";
const PEPPER_B = "pepper-b-of-at-least-32-characters-111111111";
let appId: string;

beforeAll(async () => {
  appId = await createTestApp("hashes");
});

function call(path: string, body: unknown, settings: Partial<Bindings> = {}): Promise<Response> {
  return send(app, path, postJson(body, { "x-app-id": appId }), settings);
}

async function storedHash(email: string): Promise<string> {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute<{ password_hash: string }>(
      `select password_hash from users where app_id = '${appId}' and email = '${email}'`,
    );
    return result.rows[0]?.password_hash ?? "no such user";
  } finally {
    await handle.close();
  }
}

describe("hash upgrades at login", () => {
  it("moves an scrypt account to Argon2id at its next successful login", async () => {
    const email = uniqueEmail();
    const scrypt = { PASSWORD_HASH: "scrypt" };
    expect((await call("/v1/auth/register", { email, password: PASSWORD }, scrypt)).status).toBe(201);
    const before = await storedHash(email);
    expect(before).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$/);

    // A failed login changes nothing; a successful one rehashes under today's default.
    expect(await errorCode(await call("/v1/auth/login", { email, password: "wrong password" }))).toBe(
      "invalid_credentials",
    );
    expect(await storedHash(email)).toBe(before);
    expect((await call("/v1/auth/login", { email, password: PASSWORD })).status).toBe(200);
    expect(await storedHash(email)).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[^$]+\$[^$]+$/);
    expect((await call("/v1/auth/login", { email, password: PASSWORD })).status).toBe(200);
  });

  it("moves an account to the configured algorithm, whichever it is", async () => {
    const email = uniqueEmail();
    expect((await call("/v1/auth/register", { email, password: PASSWORD })).status).toBe(201);
    expect(await storedHash(email)).toMatch(/^\$argon2id\$/);
    const raised = { PASSWORD_ARGON2_ITERATIONS: "3" };
    expect((await call("/v1/auth/login", { email, password: PASSWORD }, raised)).status).toBe(200);
    expect(await storedHash(email)).toMatch(/^\$argon2id\$v=19\$m=19456,t=3,p=1\$/);
    const scrypt = { PASSWORD_HASH: "scrypt" };
    expect((await call("/v1/auth/login", { email, password: PASSWORD }, scrypt)).status).toBe(200);
    expect(await storedHash(email)).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$/);
  });

  it("moves a peppered account to the new pepper after a rotation", async () => {
    const email = uniqueEmail();
    const first = { PASSWORD_PEPPER: PEPPER_A };
    const rotated = { PASSWORD_PEPPER: PEPPER_B, PASSWORD_PEPPER_PREVIOUS: PEPPER_A };
    expect((await call("/v1/auth/register", { email, password: PASSWORD }, first)).status).toBe(201);
    const underA = await storedHash(email);
    expect(underA).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1,keyid=[0-9a-f]{8}\$/);

    // Without the pepper the hash is useless: the login fails.
    expect(await errorCode(await call("/v1/auth/login", { email, password: PASSWORD }))).toBe(
      "invalid_credentials",
    );
    expect((await call("/v1/auth/login", { email, password: PASSWORD }, rotated)).status).toBe(200);
    const underB = await storedHash(email);
    expect(underB).toMatch(/,keyid=[0-9a-f]{8}\$/);
    expect(underB.match(/keyid=(\w+)/)?.[1]).not.toBe(underA.match(/keyid=(\w+)/)?.[1]);
    // The previous pepper can now be retired.
    expect(
      (await call("/v1/auth/login", { email, password: PASSWORD }, { PASSWORD_PEPPER: PEPPER_B })).status,
    ).toBe(200);
  });
});
