/** `gravy app key create | list | revoke`: shown once, stored as a hash, revocable. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { gravy, gravyJson, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const env = { DATABASE_URL: url };

interface Created {
  created: { id: string; appId: string; name: string; key: string };
}
interface Listed {
  keys: {
    id: string;
    name: string;
    createdAt: string;
    lastUsedAt: string | null;
    revokedAt: string | null;
  }[];
}

describe("app key commands", () => {
  it("create a key, print it once, and store only its hash", async () => {
    await gravy(["app", "add", "portal", "--name", "Portal", "--url", "https://portal.example"], env);
    const printed = await gravy(["app", "key", "create", "portal", "--name", "billing"], env);
    expect(printed.code).toBe(0);
    const key = /tk_portal_[A-Za-z0-9_-]{43}/.exec(printed.stdout)?.[0];
    expect(key).toBeDefined();
    expect(printed.stdout).toContain('Created key "billing"');

    const { created } = await gravyJson<Created>(["app", "key", "create", "portal"], env);
    expect(created).toMatchObject({ appId: "portal", name: "default" });
    const rows = await query(
      url,
      "select key_hash from app_keys where app_id = 'portal' order by created_at",
    );
    expect(rows).toEqual([
      { key_hash: createHash("sha256").update(String(key)).digest("hex") },
      { key_hash: createHash("sha256").update(created.key).digest("hex") },
    ]);
    const stored = JSON.stringify(await query(url, "select * from app_keys"));
    expect(stored).not.toContain(created.key);
  });

  it("list keys, then revoke one, which the list shows", async () => {
    const { keys } = await gravyJson<Listed>(["app", "key", "list", "portal"], env);
    expect(keys.map((key) => key.name)).toEqual(["billing", "default"]);
    expect(keys.every((key) => key.lastUsedAt === null && key.revokedAt === null)).toBe(true);
    const table = await gravy(["app", "key", "list", "portal"], env);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+CREATED\s+LAST USED\s+REVOKED\n/);

    const target = keys[0]?.id ?? "";
    const revoked = await gravy(["app", "key", "revoke", "portal", target], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Revoked key ${target} of app "portal".`);
    const after = await gravyJson<Listed>(["app", "key", "list", "portal"], env);
    expect(after.keys[0]?.revokedAt).not.toBeNull();
    expect(after.keys[1]?.revokedAt).toBeNull();
  });

  it("refuse unknown apps, keys of another app, and revoking twice", async () => {
    await gravy(["app", "add", "other", "--name", "Other", "--url", "https://other.example"], env);
    const { keys } = await gravyJson<Listed>(["app", "key", "list", "portal"], env);
    const live = keys.find((key) => key.revokedAt === null)?.id ?? "";
    const revokedId = keys.find((key) => key.revokedAt !== null)?.id ?? "";
    const cases: [string[], string][] = [
      [["app", "key", "create", "nope"], 'No app "nope"'],
      [["app", "key", "list", "nope"], 'No app "nope"'],
      [["app", "key", "revoke", "other", live], `No live key ${live} in app "other"`],
      [["app", "key", "revoke", "portal", revokedId], `No live key ${revokedId} in app "portal"`],
      [["app", "key", "revoke", "portal", "x"], "keyId must be a key id"],
    ];
    for (const [argv, message] of cases) {
      const result = await gravy(argv, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(message);
    }
  });
});
