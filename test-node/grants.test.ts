/** `gravy db grants`: the least-privilege role, printed or applied, and what it may do. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { adminQuery } from "../test/support/scratch-database";
import { gravy, gravyJson, MIGRATIONS, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const unmigrated = await scratchDatabase();
const env = { DATABASE_URL: url };
// Roles belong to the whole server: a name of our own, dropped afterwards.
const role = `turkey_app_${randomBytes(4).toString("hex")}`;
afterAll(async () => {
  for (const database of [url, unmigrated])
    await adminQuery(database, `drop owned by ${role}`).catch(() => {});
  await adminQuery(url, `drop role if exists ${role}`);
});

function asRole(password: string, database = url): string {
  const target = new URL(database);
  target.username = role;
  target.password = password;
  return target.toString();
}

async function asRoleQuery(password: string, text: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: asRole(password) });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describe("db grants", () => {
  it("prints the SQL with a SCRAM verifier instead of the password", async () => {
    const password = "a-password-never-to-be-printed";
    const result = await gravy(["db", "grants", "--role", role, "--password", password], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "${role}";`,
    );
    expect(result.stdout).toContain(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "${role}";`,
    );
    expect(result.stdout).toMatch(
      /PASSWORD 'SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+'/,
    );
    expect(result.stdout + result.stderr).not.toContain(password);
    expect(result.stderr).toBe("");
  });

  it("shows a generated password once, on stderr, so the SQL can go to a file", async () => {
    const result = await gravy(["db", "grants", "--role", role], env);
    const generated = /shown once\): (\S+)/.exec(result.stderr)?.[1] ?? "";
    expect(generated).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(result.stdout).not.toContain(generated);
  });

  it("applies it: the role reads and writes rows, and cannot change the schema", async () => {
    const applied = await gravyJson<{ role: string; applied: number; generatedPassword: string }>(
      ["db", "grants", "--role", role, "--apply"],
      env,
    );
    const password = applied.generatedPassword;
    expect(applied.role).toBe(role);

    await asRoleQuery(
      password,
      "insert into apps (id, name, url) values ('shop', 'Shop', 'https://shop.example')",
    );
    expect(await asRoleQuery(password, "select id from apps")).toEqual([{ id: "shop" }]);
    await expect(asRoleQuery(password, "create table intruder (id int)")).rejects.toMatchObject({
      code: "42501",
    });
    await expect(asRoleQuery(password, "drop table audit")).rejects.toMatchObject({ code: "42501" });

    const status = await gravy(["db", "status"], { DATABASE_URL: asRole(password) });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${MIGRATIONS} applied, 0 pending`);
    const check = await gravy(["db", "migrate"], { DATABASE_URL: asRole(password) });
    expect(check.stdout).toContain(`is up to date (${MIGRATIONS} applied)`);
    const rollback = await gravy(["db", "rollback"], { DATABASE_URL: asRole(password) });
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toMatch(
      /^Permission denied: run migrations as the role that owns the tables.*\n$/,
    );
  });

  it("applies again without error, with a given password that is never echoed", async () => {
    const password = "another-secret-for-the-role";
    const result = await gravy(["db", "grants", "--role", role, "--password", password, "--apply"], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `Role ${role} can now read and write rows in ${new URL(url).pathname.slice(1)} on 127.0.0.1:${new URL(url).port}.\n`,
    );
    expect(result.stdout + result.stderr).not.toContain(password);
    expect(await asRoleQuery(password, "select count(*)::int as n from users")).toEqual([{ n: 0 }]);
  });

  it("can come before the first migrate, which then grants the role the migration record", async () => {
    const password = "password-for-a-new-database";
    const owner = { DATABASE_URL: unmigrated };
    expect(
      (await gravy(["db", "grants", "--role", role, "--password", password, "--apply"], owner)).code,
    ).toBe(0);
    expect((await gravy(["db", "migrate"], owner)).code).toBe(0);
    const status = await gravy(["db", "status"], { DATABASE_URL: asRole(password, unmigrated) });
    expect(status.stdout).toContain(`${MIGRATIONS} applied, 0 pending`);
    const health = await gravy(["db", "health"], { DATABASE_URL: asRole(password, unmigrated) });
    expect(health.code).toBe(0);
  });

  it("refuses a role name that is not a plain identifier", async () => {
    const result = await gravy(["db", "grants", "--role", 'x"; drop table users; --'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^--role must be a lower-case identifier/);
  });
});
