/** `gravy db grants`: the least-privilege role, printed or applied, and what it may do. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { scramVerifier } from "../src/cli/grants";
import { adminQuery, createScratchDatabase } from "../test/support/scratch-database";
import { gravy, gravyJson, MIGRATIONS, query, scratchDatabase } from "./support/gravy";

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

/** pg_roles.rolvaliduntil of the test's role: an ISO timestamp, or "infinity". */
async function validUntil(): Promise<string> {
  const [row] = await query<{ until: string }>(
    url,
    `select case when rolvaliduntil = 'infinity' then 'infinity'
       else to_char(rolvaliduntil at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') end as until
     from pg_roles where rolname = $1`,
    [role],
  );
  return row?.until ?? "none";
}

/** Whether pg_authid's SCRAM verifier of the role was made from this password. */
async function storedVerifierMatches(password: string): Promise<boolean> {
  const [row] = await query<{ verifier: string }>(
    url,
    "select rolpassword as verifier from pg_authid where rolname = $1",
    [role],
  );
  const salt = /^SCRAM-SHA-256\$4096:([^$]+)\$/.exec(row?.verifier ?? "")?.[1];
  return salt !== undefined && scramVerifier(password, Buffer.from(salt, "base64")) === row?.verifier;
}

async function asRoleQuery(password: string, text: string, database = url): Promise<unknown> {
  const client = new pg.Client({ connectionString: asRole(password, database) });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/**
 * The role adds audit rows and reads them, never rewrites them; its cron still seals the chain
 * and applies retention, through the migrations' SECURITY DEFINER functions.
 */
async function expectAppendOnlyAudit(password: string, database = url): Promise<void> {
  const asApp = (text: string) => asRoleQuery(password, text, database);
  await asApp("insert into audit (event, details) values ('grants_test', '{}')");
  expect(await asApp("select count(*)::int as n from audit where event = 'grants_test'")).toEqual([{ n: 1 }]);
  for (const statement of [
    "update audit set event = 'rewritten'",
    "delete from audit",
    "truncate audit",
    "update audit_chains set head_seq = 0",
    "insert into audit_chains (app_id, head_hash, anchor_hash) values ('x', '', '')",
  ]) {
    await expect(asApp(statement), statement).rejects.toMatchObject({ code: "42501" });
  }
  const sealed = await gravy(["audit", "seal", "--json"], { DATABASE_URL: asRole(password, database) });
  expect(JSON.parse(sealed.stdout)).toMatchObject({ sealed: expect.any(Number) });
  expect((await gravy(["audit", "verify"], { DATABASE_URL: asRole(password, database) })).code).toBe(0);
  const cleanup = await gravy(["db", "cleanup"], { DATABASE_URL: asRole(password, database) });
  expect(cleanup).toMatchObject({ code: 0, stderr: "" });
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
    await expectAppendOnlyAudit(password);

    const status = await gravy(["db", "status"], { DATABASE_URL: asRole(password) });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${MIGRATIONS} applied, 0 pending`);
    const check = await gravy(["db", "migrate"], { DATABASE_URL: asRole(password) });
    expect(check.stdout).toContain(`is up to date (${MIGRATIONS} applied)`);
    const rollback = await gravy(["db", "rollback", "--yes"], { DATABASE_URL: asRole(password) });
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
    await expectAppendOnlyAudit(password, unmigrated);
  });

  it("sets the password's VALID UNTIL, in UTC", async () => {
    const printed = await gravy(["db", "grants", "--role", role, "--valid-until", "2099-01-01"], env);
    expect(printed.stdout).toMatch(
      /PASSWORD 'SCRAM-SHA-256\$[^']+' VALID UNTIL '2099-01-01T00:00:00\.000Z';/,
    );

    const applied = await gravy(
      [
        "db",
        "grants",
        "--role",
        role,
        "--password",
        "valid-for-a-while",
        "--apply",
        "--valid-until",
        "2099-01-01",
      ],
      env,
    );
    expect(applied.stdout).toContain("Its password is valid until 2099-01-01 00:00:00 UTC.");
    expect(await validUntil()).toBe("2099-01-01T00:00:00.000Z");
    expect(await asRoleQuery("valid-for-a-while", "select 1 as ok")).toEqual([{ ok: 1 }]);

    // Without --valid-until, a new password does not expire.
    await gravy(["db", "grants", "--role", role, "--password", "valid-for-a-while", "--apply"], env);
    expect(await validUntil()).toBe("infinity");
  });

  it("refuses a --valid-until in the past or that is not a date", async () => {
    for (const [value, message] of [
      ["2001-01-01", /must be in the future/],
      ["next year", /must be a date/],
    ] as const) {
      const result = await gravy(["db", "grants", "--role", role, "--apply", "--valid-until", value], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(message);
    }
  });

  it("rotates the password: the printed one logs in, the old one no longer matches", async () => {
    await gravy(["db", "grants", "--role", role, "--password", "the-old-password", "--apply"], env);
    const result = await gravy(
      [
        "db",
        "grants",
        "--role",
        role,
        "--rotate-password",
        "--valid-until",
        "2098-06-30",
        "--hyperdrive-id",
        "a1b2",
      ],
      env,
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const password = /npx wrangler hyperdrive update a1b2 --origin-password=([A-Za-z0-9_-]{32})\n/.exec(
      result.stdout,
    )?.[1];
    expect(password).toBeDefined();
    // The password appears once, inside the command, nowhere else.
    expect(result.stdout.split(password as string)).toHaveLength(2);
    expect(await asRoleQuery(password as string, "select current_user as who")).toEqual([{ who: role }]);
    // What the server now keeps is a verifier of the new password, not of the old one (a check
    // that holds on servers with trust authentication too, where any password logs in).
    expect(await storedVerifierMatches(password as string)).toBe(true);
    expect(await storedVerifierMatches("the-old-password")).toBe(false);
    expect(await validUntil()).toBe("2098-06-30T00:00:00.000Z");
  });

  it("refuses to rotate the password of a role that does not exist", async () => {
    const result = await gravy(["db", "grants", "--role", "turkey_nobody_here", "--rotate-password"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Role turkey_nobody_here does not exist on .*: create it with/);
  });

  it("works as a table owner that is not a superuser, only CREATEROLE", async () => {
    const suffix = randomBytes(4).toString("hex");
    const [owner, app] = [`turkey_owner_${suffix}`, `turkey_app_${suffix}`];
    const database = await createScratchDatabase(inject("serverUrl"), "gravy_owner");
    const name = new URL(database.url).pathname.slice(1);
    const as = (user: string, password: string) => {
      const target = new URL(database.url);
      target.username = user;
      target.password = password;
      return { DATABASE_URL: target.toString() };
    };
    try {
      await adminQuery(database.url, `create role ${owner} login createrole password 'owner-password'`);
      await adminQuery(database.url, `alter database ${name} owner to ${owner}`);
      const owned = as(owner, "owner-password");
      expect((await gravy(["db", "migrate"], owned)).code).toBe(0);
      const grants = await gravy(
        ["db", "grants", "--role", app, "--apply", "--password", "app-password"],
        owned,
      );
      expect(grants).toMatchObject({ code: 0, stderr: "" });
      const rotated = await gravy(["db", "grants", "--role", app, "--rotate-password"], owned);
      expect(rotated).toMatchObject({ code: 0, stderr: "" });
      const password = /--origin-password=(\S+)/.exec(rotated.stdout)?.[1] ?? "";
      const rows = await query(
        as(app, password).DATABASE_URL,
        "insert into apps (id, name, url) values ('a', 'A', 'https://a.example') returning id",
      );
      expect(rows).toEqual([{ id: "a" }]);
    } finally {
      await database.drop();
      await adminQuery(url, `drop role if exists ${app}`);
      await adminQuery(url, `drop role if exists ${owner}`);
    }
  });

  it("refuses a role name that is not a plain identifier", async () => {
    const result = await gravy(["db", "grants", "--role", 'x"; drop table users; --'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^--role must be a lower-case identifier/);
  });
});
