/** Pure parts of the CLI: formatting, tool choice, migration bookkeeping, error lines. */
import { describe, expect, it } from "vitest";
import { backupFileName, libpqConnection } from "../src/cli/backup";
import { CliError, describeFailure } from "../src/cli/errors";
import { parseValidUntil, passwordStatement } from "../src/cli/grants";
import { workerDatabaseUrl } from "../src/cli/local-worker";
import { compareMigrations, type MigrationFile } from "../src/cli/migrations";
import { formatBytes, formatTable } from "../src/cli/output";
import { chooseDumpTool, choosePsqlTool, type PgTool, parseVersion } from "../src/cli/pg-tools";
import { assessServerVersion, MIN_SERVER_MAJOR, requireSupportedServer } from "../src/cli/server-version";
import { ConfigError } from "../src/config";

const tool = (version: string, path = `/opt/pg${version}/bin/pg_dump`): PgTool => ({
  name: "pg_dump",
  path,
  version,
  major: parseVersion(`pg_dump (PostgreSQL) ${version}`)?.major ?? 0,
});

describe("choosing pg_dump", () => {
  it("takes the newest one when several can dump the server", () => {
    expect(chooseDumpTool([tool("18.1"), tool("16.4")], 16).version).toBe("18.1");
  });

  it("refuses one older than the server, naming both versions", () => {
    expect(() => chooseDumpTool([tool("15.20")], 18)).toThrow(
      /pg_dump 15\.20 .* is older than the server \(PostgreSQL 18\); install the PostgreSQL 18 client programs/,
    );
  });

  it("says so when there is none", () => {
    expect(() => chooseDumpTool([], 16)).toThrow(/pg_dump not found/);
    expect(() => choosePsqlTool([])).toThrow(/psql not found/);
  });

  it("reads versions as the programs print them", () => {
    expect(parseVersion("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)")).toEqual({
      version: "15.20",
      major: 15,
    });
    expect(parseVersion("psql (PostgreSQL) 18.0")).toEqual({ version: "18.0", major: 18 });
    expect(parseVersion("pg_dump (PostgreSQL) 9.6.24")).toEqual({ version: "9.6", major: 9.6 });
    expect(parseVersion("something else")).toBeUndefined();
  });
});

describe("migration bookkeeping", () => {
  const file = (tag: string, createdAt: number, hash = `hash-${tag}`): MigrationFile => ({
    tag,
    createdAt,
    hash,
    downPath: `/m/${tag}.down.sql`,
  });

  it("marks applied, changed, pending, skipped and unknown migrations", () => {
    const files = [file("0000_a", 100), file("0001_b", 200), file("0002_c", 300), file("0003_d", 400)];
    const applied = [
      { hash: "hash-0000_a", createdAt: 100 },
      { hash: "other", createdAt: 300 },
      { hash: "x", createdAt: 350 },
    ];
    const states = compareMigrations(files, applied).map((m) => [m.tag, m.state]);
    expect(states).toEqual([
      ["0000_a", "applied"],
      ["0001_b", "skipped"],
      ["0002_c", "changed"],
      [null, "unknown"],
      ["0003_d", "pending"],
    ]);
  });
});

describe("output", () => {
  it("aligns table columns and prints empty cells as -", () => {
    const table = formatTable(
      [
        { name: "apps", size: 16384, note: null },
        { name: "refresh_tokens", size: 8, note: "x" },
      ],
      [
        { key: "name", title: "Table" },
        { key: "size", title: "Size", align: "right" },
        { key: "note", title: "Note" },
      ],
    );
    expect(table.split("\n")).toEqual([
      "TABLE            SIZE  NOTE",
      "apps            16384  -",
      "refresh_tokens      8  x",
    ]);
  });

  it("formats sizes in binary units", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(2048)).toBe("2.0 kB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50 MB");
  });
});

describe("backups", () => {
  it("are named like the guide's script, in local time", () => {
    expect(backupFileName(new Date(2026, 0, 4, 3, 5, 9))).toBe("turkey_backup_20260104_030509.sql.gz");
  });

  it("hand the password to pg_dump and psql through the environment only", () => {
    const { dbname, env } = libpqConnection(
      "postgresql://app:s%3Acret@db.internal:5432/turkey?sslmode=require",
    );
    expect(dbname).toBe("postgresql://app@db.internal:5432/turkey?sslmode=require");
    expect(env).toEqual({ PGPASSWORD: "s:cret" });
  });
});

describe("error lines", () => {
  it("never show the SQL parameters drizzle puts in its messages", () => {
    const driverError = Object.assign(new Error('relation "users" does not exist'), { code: "42P01" });
    const wrapped = Object.assign(new Error("Failed query: select … params: secret-token-hash"), {
      cause: driverError,
    });
    const line = describeFailure(wrapped);
    expect(line).toBe('Database error: relation "users" does not exist (SQLSTATE 42P01)');
    expect(line).not.toContain("secret-token-hash");
  });

  it("say where, for a failure while connecting", () => {
    const missing = Object.assign(new Error('database "nope" does not exist'), { code: "3D000" });
    expect(describeFailure(missing, { label: "nope on 127.0.0.1:5432" })).toBe(
      'Database error: database does not exist: database "nope" does not exist (nope on 127.0.0.1:5432)',
    );
    expect(
      describeFailure(new Error("The server does not support SSL connections"), { label: "t on h:5432" }),
    ).toBe("Cannot connect to the database at t on h:5432: The server does not support SSL connections");
  });

  it("explain an unreachable server with its address and hint", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(describeFailure(refused, { label: "turkey on 127.0.0.1:1", hint: "start it" })).toBe(
      "Cannot reach the database at turkey on 127.0.0.1:1 (connection refused): start it",
    );
  });

  it("pass the CLI's and the configuration's own messages through", () => {
    expect(describeFailure(new CliError('No app "x"'))).toBe('No app "x"');
    expect(describeFailure(new ConfigError(["JWT_SECRET"], "JWT_SECRET is required"))).toBe(
      "Invalid configuration: JWT_SECRET is required",
    );
    expect(describeFailure(new Error("boom\n  at somewhere"))).toBe("Unexpected error: boom at somewhere");
  });
});

describe("the minimum PostgreSQL version", () => {
  it("is 14, the operations guide's", () => {
    expect(MIN_SERVER_MAJOR).toBe(14);
  });

  it("accepts 14 and newer", () => {
    expect(assessServerVersion("14.0", 140000)).toMatchObject({ major: 14, supported: true });
    expect(assessServerVersion("18.1", 180001)).toMatchObject({ major: 18, supported: true });
    expect(() =>
      requireSupportedServer(assessServerVersion("14.0", 140000), "turkey on db:5432"),
    ).not.toThrow();
  });

  it("refuses older servers, naming the version, where, and the minimum", () => {
    expect(assessServerVersion("13.14", 130014)).toMatchObject({ major: 13, supported: false });
    expect(assessServerVersion("9.6.24", 90624)).toMatchObject({ major: 9, supported: false });
    expect(() => requireSupportedServer(assessServerVersion("13.14", 130014), "turkey on db:5432")).toThrow(
      new CliError(
        "PostgreSQL 13.14 at turkey on db:5432 is too old: Turkey needs PostgreSQL 14 or newer. Upgrade the server (or use another one) before migrating.",
      ),
    );
  });
});

describe("--valid-until", () => {
  const now = new Date("2026-06-01T12:00:00Z");

  it("takes a date (midnight UTC) or an ISO timestamp", () => {
    expect(parseValidUntil("2027-01-01", now).toISOString()).toBe("2027-01-01T00:00:00.000Z");
    expect(parseValidUntil("2026-06-02T08:30:00+02:00", now).toISOString()).toBe("2026-06-02T06:30:00.000Z");
  });

  it("refuses anything else, and the past, which would lock the role out", () => {
    for (const text of ["soon", "01/02/2027", "2027-13-45", "2027-02-30", ""]) {
      expect(() => parseValidUntil(text, now)).toThrow(/--valid-until must be a date/);
    }
    expect(() => parseValidUntil("2026-01-01", now)).toThrow(/must be in the future/);
  });

  it("goes to the server in UTC, and 'infinity' without a date", () => {
    const base = { role: "turkey_app", verifier: "SCRAM-SHA-256$4096:c2FsdA==$a:b" };
    expect(passwordStatement({ ...base, validUntil: new Date("2027-01-01T00:00:00Z") })).toBe(
      `ALTER ROLE "turkey_app" WITH PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b' VALID UNTIL '2027-01-01T00:00:00.000Z'`,
    );
    expect(passwordStatement(base)).toMatch(/VALID UNTIL 'infinity'$/);
  });
});

describe("the local Worker's database URL", () => {
  it("keeps a password, else takes PGPASSWORD, else a placeholder local Hyperdrive accepts", () => {
    expect(workerDatabaseUrl("postgres://app:s%40cret@127.0.0.1:5432/turkey", "other")).toBe(
      "postgres://app:s%40cret@127.0.0.1:5432/turkey",
    );
    expect(workerDatabaseUrl("postgres://app@127.0.0.1:5432/turkey", "p@ss")).toBe(
      "postgres://app:p%40ss@127.0.0.1:5432/turkey",
    );
    expect(workerDatabaseUrl("postgresql://postgres@localhost/turkey?sslmode=disable", undefined)).toBe(
      "postgresql://postgres:unused@localhost/turkey?sslmode=disable",
    );
  });

  it("refuses a URL without host, database or user, naming the part", () => {
    expect(() => workerDatabaseUrl("postgres:///turkey?host=/var/run/postgresql", undefined)).toThrow(
      /^DATABASE_URL names no host/,
    );
    expect(() => workerDatabaseUrl("postgres://app@db:5432", undefined)).toThrow(
      /^DATABASE_URL names no database/,
    );
    expect(() => workerDatabaseUrl("postgres://db:5432/turkey", undefined)).toThrow(
      /^DATABASE_URL names no user/,
    );
  });
});
