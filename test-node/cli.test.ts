/**
 * The CLI as a whole: help, argument errors, the production guard, and the real process
 * (`npm run gravy`, tsx) with its exit codes and one-line errors.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { COMMANDS } from "../src/cli/main";
import { closedPort, emptyFolder, gravy, MIGRATIONS, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

/** The real process, with its exit code, from the project folder. */
async function spawnGravy(command: string, args: string[], env: Record<string, string>) {
  const options = {
    cwd: ROOT,
    env: { NODE_ENV: "test", PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
  };
  try {
    const { stdout, stderr } = await run(command, args, options);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("help", () => {
  it("every command has --help, exit 0", async () => {
    for (const command of COMMANDS) {
      const result = await gravy([...command.name.split(" "), "--help"], {});
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: gravy ${command.name}`));
      expect(result.stdout).toContain("--json");
    }
  });

  it("lists the commands, and each group's", async () => {
    expect((await gravy(["--help"], {})).stdout).toContain("app remove <appId>");
    const db = await gravy(["db", "--help"], {});
    expect(db.stdout).toContain("db rollback");
    expect(db.stdout).not.toContain("app add");
  });
});

describe("bad arguments give one line on stderr and exit 1", () => {
  const cases: [string[], string][] = [
    [[], "Missing command. Run `gravy --help` for the list.\n"],
    [["db"], "Missing command. Run `gravy db --help` for the list.\n"],
    [["dbx"], 'Unknown command "dbx". Run `gravy --help` for the list.\n'],
    [["db", "explode"], 'Unknown command "db explode". Run `gravy db --help` for the list.\n'],
    [["db", "status", "--nope"], "Unknown option '--nope' (see `gravy db status --help`)\n"],
    [["db", "status", "extra"], 'Unexpected argument "extra" (see `gravy db status --help`)\n'],
    [["db", "restore"], "Missing <file> (see `gravy db restore --help`)\n"],
    [["db", "backup", "--keep-days", "soon"], "--keep-days must be a whole number from 1 to 36500\n"],
    [["db", "restore", "/no/such/file.sql.gz"], "No such file: /no/such/file.sql.gz\n"],
  ];
  for (const [argv, message] of cases) {
    it(`gravy ${argv.join(" ")}`, async () => {
      expect(await gravy(argv, { DATABASE_URL: url })).toEqual({ code: 1, stdout: "", stderr: message });
    });
  }
});

describe("production guard", () => {
  it("refuses a DATABASE_URL without sslmode=require, naming the key and not the password", async () => {
    const env = {
      NODE_ENV: "production",
      DATABASE_URL: "postgres://turkey_app:hunter2@db.internal:5432/turkey",
    };
    for (const argv of [
      ["db", "status"],
      ["db", "migrate"],
      ["app", "list"],
      ["db", "backup", "--dir", "/tmp/x"],
    ]) {
      const result = await gravy(argv, env);
      expect(result).toEqual({
        code: 1,
        stdout: "",
        stderr: "Invalid configuration: DATABASE_URL must include sslmode=require in production\n",
      });
    }
  });

  it("lets sslmode=require through, and needs no JWT_SECRET or Mailgun for db commands", async () => {
    // pg warns once per process about how it reads sslmode; the real process prints it in one line.
    vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    const port = await closedPort();
    const env = {
      NODE_ENV: "production",
      DATABASE_URL: `postgres://u:hunter2@127.0.0.1:${port}/turkey?sslmode=require`,
    };
    const result = await gravy(["db", "status"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Cannot reach the database at turkey on 127.0.0.1:${port} (connection refused)\n`,
    );
  });

  it("requires DATABASE_URL in production instead of guessing a local database", async () => {
    const result = await gravy(["db", "status"], { NODE_ENV: "production" });
    expect(result.stderr).toBe("DATABASE_URL is required when NODE_ENV=production\n");
  });

  it("without DATABASE_URL elsewhere, points at the embedded database of `npm start`", async () => {
    const port = await closedPort();
    const result = await gravy(["db", "status"], { TURKEY_DB_PORT: String(port) });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Cannot reach the database at turkey on 127.0.0.1:${port} (connection refused): that is the embedded database of \`npm start\`; start it, or set DATABASE_URL\n`,
    );
  });
});

describe("the real process", () => {
  const tsx = `${ROOT}node_modules/.bin/tsx`;

  it("answers with JSON on stdout and logs on stderr", async () => {
    const result = await spawnGravy(tsx, ["src/cli/gravy.ts", "db", "cleanup", "--json"], {
      DATABASE_URL: url,
    });
    expect(result.code).toBe(0);
    const counts = JSON.parse(result.stdout).counts as Record<string, number>;
    expect(Object.values(counts)).toEqual(Object.values(counts).map(() => 0));
    expect(counts).toHaveProperty("revokedJti");
    expect(result.stderr).toContain("Cleanup job completed");
  });

  it("exits with 1 and a single line, no stack trace, when the database is down", async () => {
    const port = await closedPort();
    const env = { DATABASE_URL: `postgres://postgres:hunter2@127.0.0.1:${port}/turkey` };
    const result = await spawnGravy(tsx, ["src/cli/gravy.ts", "db", "health"], env);
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `Cannot reach the database at turkey on 127.0.0.1:${port} (connection refused)\n`,
    });
  });

  it("runs as `npm run gravy` with the exit codes of the command", async () => {
    const ok = await spawnGravy("npm", ["run", "--silent", "gravy", "--", "db", "status"], {
      DATABASE_URL: url,
    });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${MIGRATIONS} applied, 0 pending`);
    const bad = await spawnGravy("npm", ["run", "--silent", "gravy", "--", "db", "status", "--nope"], {
      DATABASE_URL: url,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Unknown option '--nope'");
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it("reads .dev.vars from the working folder like npm start, the shell winning", async () => {
    const cwd = await emptyFolder();
    await writeFile(path.join(cwd, ".dev.vars"), `DATABASE_URL=${url}\nDB_POOL_MAX=\n`);
    const script = path.join(ROOT, "src/cli/gravy.ts");
    const env = { NODE_ENV: "test", PATH: process.env.PATH ?? "" };
    const fromFile = await run(tsx, [script, "db", "status"], { cwd, env });
    expect(fromFile.stdout).toContain(`${MIGRATIONS} applied, 0 pending`);
    const port = await closedPort();
    const shell = { ...env, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/turkey` };
    await expect(run(tsx, [script, "db", "status"], { cwd, env: shell })).rejects.toMatchObject({ code: 1 });
  });
});
