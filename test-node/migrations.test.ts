/** `gravy db migrate | status | rollback` against a real database, compared by its catalog. */
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { describeDown, type MigrationFile, readMigrationFiles, rollbackLast } from "../src/cli/migrations";
import { MIGRATIONS_DIR } from "../src/db/migrate";
import { readCatalog } from "./support/catalog";
import { closedPort, gravy, gravyJson, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase();
const env = { DATABASE_URL: url };
const journal = readMigrationFiles(MIGRATIONS_DIR);
const last = journal.at(-1);
const label = (database: string) =>
  `${new URL(database).pathname.slice(1)} on 127.0.0.1:${new URL(database).port}`;

interface StatusJson {
  applied: number;
  pending: number;
  migrations: { tag: string; createdAt: string; state: string; hasDown: boolean }[];
}

describe("db migrate, status and rollback", () => {
  it("lists every migration as pending on a new database, with its date", async () => {
    const status = await gravyJson<StatusJson>(["db", "status"], env);
    expect(status.applied).toBe(0);
    expect(status.pending).toBe(journal.length);
    expect(status.migrations[0]).toEqual({
      tag: "0000_init",
      createdAt: new Date(journal[0]?.createdAt ?? 0).toISOString(),
      state: "pending",
      hasDown: true,
    });
  });

  it("applies them and records each as drizzle does (hash, the journal's date)", async () => {
    const migrated = await gravy(["db", "migrate"], env);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toContain("Applied 0000_init");
    const rows = await query<{ hash: string; created_at: string }>(
      url,
      "select hash, created_at from drizzle.__drizzle_migrations order by created_at",
    );
    expect(rows.map((row) => [row.hash, Number(row.created_at)])).toEqual(
      journal.map((file) => [file.hash, file.createdAt]),
    );
    const status = await gravy(["db", "status"], env);
    expect(status.stdout).toMatch(/0000_init\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+applied\s+yes/);
    expect((await gravy(["db", "migrate"], env)).stdout).not.toContain("Applied");
  });

  it("rolls back the last one and migrates to an identical schema", async () => {
    const before = await readCatalog(url);
    expect(before.indexes.map((row) => row.index)).toContain("revoked_jti_expires_idx");

    const rolledBack = await gravy(["db", "rollback", "--yes"], env);
    expect(rolledBack.code).toBe(0);
    expect(rolledBack.stdout).toContain(`Rolled back ${last?.tag}`);
    const status = await gravyJson<StatusJson>(["db", "status"], env);
    expect(status.migrations.at(-1)?.state).toBe("pending");
    expect(await readCatalog(url)).not.toEqual(before);

    expect((await gravy(["db", "migrate"], env)).code).toBe(0);
    expect(await readCatalog(url)).toEqual(before);
  });

  it("rolls back every migration to an empty schema, then refuses to go further", async () => {
    const before = await readCatalog(url);
    for (const _ of journal) expect((await gravy(["db", "rollback", "--yes"], env)).code).toBe(0);
    expect(await readCatalog(url)).toEqual({ columns: [], indexes: [], constraints: [] });
    expect(await query(url, "select * from drizzle.__drizzle_migrations")).toEqual([]);

    const nothing = await gravy(["db", "rollback", "--yes"], env);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toBe("Nothing to roll back: no migration has been applied\n");

    expect((await gravy(["db", "migrate"], env)).code).toBe(0);
    expect(await readCatalog(url)).toEqual(before);
  });
});

describe("rollback asks first", () => {
  const effect = describeDown(last as MigrationFile);

  it("says what the down file does: the first one drops every table", () => {
    expect(describeDown(journal[0] as MigrationFile)).toBe(
      "drops the tables email_tokens, refresh_tokens, revoked_jti, audit, users, apps with every row in them",
    );
    for (const file of journal.slice(1)) {
      expect(describeDown(file)).toMatch(
        /^(drops the tables .* with every row in them|runs the \d+ statements of .*\.down\.sql)$/,
      );
    }
  });

  it("without a terminal, needs --yes and changes nothing", async () => {
    const before = await readCatalog(url);
    const result = await gravy(["db", "rollback"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Not rolled back: rolling back ${last?.tag} on ${label(url)} ${effect}. Run again with --yes to confirm.\n`,
    );
    expect(await readCatalog(url)).toEqual(before);
  });

  it("on a terminal, asks, and does only what the answer says", async () => {
    const before = await readCatalog(url);
    const questions: string[] = [];
    const answer = (yes: boolean) => async (question: string) => {
      questions.push(question);
      return yes;
    };
    const declined = await gravy(["db", "rollback"], env, undefined, answer(false));
    expect(declined).toMatchObject({ code: 1, stderr: "Not rolled back.\n" });
    expect(questions).toEqual([`Roll back ${last?.tag} on ${label(url)}? It ${effect}.`]);
    expect(await readCatalog(url)).toEqual(before);

    const accepted = await gravy(["db", "rollback"], env, undefined, answer(true));
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toContain(`Rolled back ${last?.tag}`);
    expect(await readCatalog(url)).not.toEqual(before);
    expect((await gravy(["db", "migrate"], env)).code).toBe(0);
    expect(await readCatalog(url)).toEqual(before);
  });

  it("with NODE_ENV=production, refuses without --force before connecting", async () => {
    const port = await closedPort();
    const production = {
      NODE_ENV: "production",
      DATABASE_URL: `postgres://owner:pw@127.0.0.1:${port}/turkey?sslmode=require`,
    };
    const refused = await gravy(["db", "rollback", "--yes"], production);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^Refusing to roll back with NODE_ENV=production: .* add --force\.\n$/);
    // With --force it goes on, and only then tries to connect.
    const forced = await gravy(["db", "rollback", "--yes", "--force"], production);
    expect(forced.stderr).toBe(
      `Cannot reach the database at turkey on 127.0.0.1:${port} (connection refused)\n`,
    );
  });
});

describe("rollback refuses", () => {
  const folders: string[] = [];
  afterAll(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

  async function copyOfMigrations(): Promise<string> {
    const folder = await mkdtemp(path.join(tmpdir(), "gravy-migrations-"));
    folders.push(folder);
    await cp(MIGRATIONS_DIR, folder, { recursive: true });
    return folder;
  }

  async function withPool<T>(work: (pool: pg.Pool) => Promise<T>): Promise<T> {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      return await work(pool);
    } finally {
      await pool.end();
    }
  }

  it("a migration without a reviewed down file, and changes nothing", async () => {
    const folder = await copyOfMigrations();
    await rm(path.join(folder, `${last?.tag}.down.sql`));
    const before = await readCatalog(url);
    await expect(withPool((pool) => rollbackLast(pool, folder))).rejects.toThrow(
      new RegExp(`Cannot roll back ${last?.tag}: no .*${last?.tag}\\.down\\.sql`),
    );
    expect(await readCatalog(url)).toEqual(before);
  });

  it("a migration whose SQL changed after it was applied", async () => {
    const folder = await copyOfMigrations();
    await writeFile(path.join(folder, `${last?.tag}.sql`), "select 1;");
    await expect(withPool((pool) => rollbackLast(pool, folder))).rejects.toThrow(
      /changed after it was applied/,
    );
  });
});
