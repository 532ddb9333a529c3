/** `gravy user delete | export`: a user's rights exercised through support. */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { AccountExport } from "../src/auth/export-user";
import type { TestUser } from "../src/cli/test-user";
import { emptyFolder, gravy, gravyJson, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const env = { DATABASE_URL: url, JWT_SECRET: "a-test-secret-that-is-long-enough-for-hs256-0123456789" };
await query(url, "insert into apps (id, name, url) values ('shop', 'Shop', 'https://shop.example')");

function createUser(email: string): Promise<TestUser> {
  return gravyJson<TestUser>(["dev", "create-test-user", "--app", "shop", "--email", email], env);
}

describe("user export", () => {
  it("prints the user's document, or writes it to a private file", async () => {
    const user = await createUser("export@example.com");
    const printed = await gravyJson<AccountExport>(["user", "export", "shop", " Export@Example.com "], env);
    expect(printed.user).toMatchObject({ id: user.user.id, email: "export@example.com" });
    expect(printed.sessions).toHaveLength(1);
    expect(JSON.stringify(printed)).not.toContain(user.refreshToken);

    const file = path.join(await emptyFolder(), "export.json");
    const written = await gravy(["user", "export", "shop", "export@example.com", "--out", file], env);
    expect(written.code).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8")).user.id).toBe(user.user.id);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("refuses an unknown user or app", async () => {
    for (const argv of [
      ["user", "export", "shop", "nobody@example.com"],
      ["user", "export", "nope", "export@example.com"],
    ]) {
      const result = await gravy(argv, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("No user");
    }
  });
});

describe("user delete", () => {
  it("needs --yes away from a terminal, then deletes, revokes and pseudonymises", async () => {
    const user = await createUser("leaving@example.com");
    const refused = await gravy(["user", "delete", "shop", "leaving@example.com"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("--yes");
    expect(
      (await query(url, "select count(*)::int as n from users where id = $1", [user.user.id]))[0],
    ).toEqual({
      n: 1,
    });

    const deleted = await gravyJson<{ deleted: { userId: string; revokedTokens: number } }>(
      ["user", "delete", "shop", "leaving@example.com", "--yes"],
      env,
    );
    expect(deleted.deleted).toEqual({ appId: "shop", userId: user.user.id, revokedTokens: 1 });
    const users = await query(url, "select count(*)::int as n from users where id = $1", [user.user.id]);
    expect(users[0]).toEqual({ n: 0 });
    const revoked = await query(
      url,
      "select user_id, published_to_kv from revoked_jti where app_id = 'shop'",
    );
    expect(revoked).toEqual([{ user_id: user.user.id, published_to_kv: false }]);
    const audit = await query(
      url,
      "select event, details from audit where user_id = $1 and event = 'account_deleted'",
      [user.user.id],
    );
    expect(audit).toEqual([{ event: "account_deleted", details: { reason: "operator" } }]);

    const again = await gravy(["user", "delete", "shop", "leaving@example.com", "--yes"], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("No user");
  });
});
