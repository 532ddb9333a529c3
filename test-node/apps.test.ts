/** `gravy app add | list | remove`, and the --force rule. */
import { describe, expect, it } from "vitest";
import { gravy, gravyJson, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const env = { DATABASE_URL: url };

interface Listed {
  apps: { id: string; name: string; url: string; users: number; createdAt: string }[];
}

describe("app commands", () => {
  it("add an app, then list it with its user count", async () => {
    const added = await gravy(
      ["app", "add", "customer-portal", "--name", "Customer portal", "--url", "https://app.example.com/"],
      env,
    );
    expect(added.code).toBe(0);
    expect(added.stdout).toBe('Added app "customer-portal" (Customer portal, https://app.example.com).\n');

    const { apps } = await gravyJson<Listed>(["app", "list"], env);
    expect(apps).toEqual([
      {
        id: "customer-portal",
        name: "Customer portal",
        url: "https://app.example.com",
        users: 0,
        createdAt: expect.any(String),
      },
    ]);
    const table = await gravy(["app", "list"], env);
    expect(table.stdout).toMatch(
      /^APP\s+NAME\s+URL\s+USERS\s+CREATED\ncustomer-portal\s+Customer portal\s+https:\/\/app\.example\.com\s+0\s+\d{4}-/,
    );
  });

  it("refuse a duplicate, a bad appId, a missing name and a bad URL", async () => {
    const cases: [string[], string][] = [
      [
        ["app", "add", "customer-portal", "--name", "Again", "--url", "https://x.example"],
        'App "customer-portal" already exists',
      ],
      [["app", "add", "has space", "--name", "X", "--url", "https://x.example"], "appId must be"],
      [["app", "add", "ok-id", "--url", "https://x.example"], "--name is required"],
      [["app", "add", "ok-id", "--name", "X", "--url", "ftp://x.example"], "--url must be an http(s) URL"],
      [["app", "add", "ok-id", "--name", "X", "--url", "not a url"], "--url must be an absolute http(s) URL"],
    ];
    for (const [argv, message] of cases) {
      const result = await gravy(argv, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect((await gravyJson<Listed>(["app", "list"], env)).apps.map((app) => app.id)).toEqual([
      "customer-portal",
    ]);
  });

  it("remove an app without users", async () => {
    await gravy(["app", "add", "empty", "--name", "Empty", "--url", "https://empty.example"], env);
    const removed = await gravy(["app", "remove", "empty"], env);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('Removed app "empty".');
  });

  it("refuse to remove an app with users unless --force, which deletes them too", async () => {
    await query(
      url,
      "insert into users (app_id, email, password_hash) values ('customer-portal', 'a@example.com', 'x')",
    );
    const refused = await gravy(["app", "remove", "customer-portal"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'App "customer-portal" has 1 user; pass --force to delete it with its users, sessions and email tokens\n',
    );
    expect((await gravyJson<Listed>(["app", "list"], env)).apps[0]?.users).toBe(1);

    const forced = await gravyJson<{ removed: string; usersDeleted: number }>(
      ["app", "remove", "customer-portal", "--force"],
      env,
    );
    expect(forced).toEqual({ removed: "customer-portal", usersDeleted: 1 });
    expect(await query(url, "select * from users where app_id = 'customer-portal'")).toEqual([]);
    expect((await gravyJson<Listed>(["app", "list"], env)).apps).toEqual([]);
  });

  it("say so when the app does not exist", async () => {
    const result = await gravy(["app", "remove", "nope"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('No app "nope"\n');
  });

  it("set turns an app's features on and off, and refuses anything but on or off", async () => {
    await gravy(["app", "add", "switches", "--name", "Switches", "--url", "https://s.example"], env);
    const on = await gravyJson<Record<string, unknown>>(
      ["app", "set", "switches", "--email-login", "on", "--hosted-pages", "on"],
      env,
    );
    expect(on).toEqual({ app: "switches", emailLogin: true, emailSignup: false, hostedPages: true });
    const text = await gravy(["app", "set", "switches", "--email-login", "off"], env);
    expect(text.stdout).toContain('App "switches": email login off, email sign-up off, hosted pages on.');
    for (const [argv, message] of [
      [["app", "set", "switches", "--email-login", "yes"], "--email-login must be on or off"],
      [["app", "set", "switches"], "Nothing to set"],
      [["app", "set", "nope", "--email-login", "on"], 'No app "nope"'],
    ] as [string[], string][]) {
      const result = await gravy(argv, env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(message);
    }
  });
});
