/**
 * `gravy db backup` and `db restore`: a backup restored into a fresh database gives the same
 * rows. pg_dump must not be older than the server; when the test server is newer than every
 * pg_dump here, a server of pg_dump's own version from the same install is used. A machine
 * with no usable pg_dump at all (Node alone) tests the one-line error that says so instead.
 */
import { randomBytes } from "node:crypto";
import { stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { candidateFolders, findTools } from "../src/cli/pg-tools";
import { adminQuery } from "../test/support/scratch-database";
import { hasServer, startCluster } from "./support/cluster";
import { emptyFolder, gravy, gravyJson, MIGRATIONS, query, scratchDatabase } from "./support/gravy";

const dumpServer = await chooseServer();
const serverUrl = dumpServer ?? (await import("vitest")).inject("serverUrl");
const source = await scratchDatabase({ migrated: true, serverUrl });
const freshTarget = await scratchDatabase({ serverUrl });
const otherFreshTarget = await scratchDatabase({ serverUrl });
const SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789";
const DAY_MS = 86_400_000;
// The dump grants to the app's role, so the role must exist where it is restored.
const role = `turkey_app_${randomBytes(4).toString("hex")}`;
afterAll(async () => {
  for (const url of [source, freshTarget]) await adminQuery(url, `drop owned by ${role}`).catch(() => {});
  await adminQuery(source, `drop role if exists ${role}`);
});

/** A server that some pg_dump here can dump, or undefined when there is none. */
async function chooseServer(): Promise<string | undefined> {
  const { inject } = await import("vitest");
  const suiteServer = inject("serverUrl");
  const [row] = await query<{ num: string }>(
    suiteServer,
    "select current_setting('server_version_num') as num",
  );
  const serverMajor = Math.floor(Number(row?.num) / 10_000);
  const dumps = await findTools("pg_dump", candidateFolders(process.env));
  if (dumps.some((tool) => tool.major >= serverMajor)) return suiteServer;
  const install = dumps.map((tool) => path.dirname(tool.path)).find(hasServer);
  if (!install) return undefined;
  const cluster = await startCluster(install, 56_000 + Math.floor(Math.random() * 1000));
  afterAll(() => cluster.stop());
  return cluster.url;
}

/** Every row the app keeps, in a stable order, and the migration record. */
async function snapshot(url: string): Promise<Record<string, unknown[]>> {
  const tables = ["apps", "users", "refresh_tokens", "revoked_jti", "audit"];
  const picture: Record<string, unknown[]> = {};
  for (const table of tables) picture[table] = await query(url, `select * from ${table} order by 1, 2`);
  picture.migrations = await query(
    url,
    "select hash, created_at from drizzle.__drizzle_migrations order by id",
  );
  return picture;
}

if (!dumpServer) {
  describe("db backup without a usable pg_dump", () => {
    it("refuses with one line naming the client programs to install", async () => {
      const result = await gravy(["db", "backup", "--dir", await emptyFolder()], { DATABASE_URL: source });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^pg_dump .*postgresql-client-\d+.*\n$/);
    });
  });
}

describe.runIf(dumpServer !== undefined)("db backup and restore", () => {
  let dir: string;
  let backupFile: string;

  beforeAll(async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    dir = await emptyFolder();
    const env = { DATABASE_URL: source, JWT_SECRET: SECRET };
    await gravy(["app", "add", "shop", "--name", "Shop", "--url", "https://shop.example"], env);
    for (let i = 0; i < 3; i++)
      expect((await gravy(["dev", "create-test-user", "--app", "shop"], env)).code).toBe(0);
    await query(
      source,
      "insert into revoked_jti (jti, app_id, expires_at) values ('j1', 'shop', now() + interval '1 hour')",
    );
    const grants = await gravy(
      ["db", "grants", "--apply", "--role", role, "--password", "pw-of-the-app-role"],
      env,
    );
    expect(grants.code).toBe(0);
  });

  it("writes a verified, compressed, owner-only backup and prunes old ones", async () => {
    const old = path.join(dir, "turkey_backup_20200101_000000.sql.gz");
    const recent = path.join(dir, "turkey_backup_20200102_000000.sql.gz");
    const unrelated = path.join(dir, "notes.sql.gz");
    for (const file of [old, recent, unrelated]) await writeFile(file, "");
    const at = (days: number) => new Date(Date.now() - days * DAY_MS);
    await utimes(old, at(31), at(31));
    await utimes(recent, at(29), at(29));
    await utimes(unrelated, at(400), at(400));

    const result = await gravyJson<{ file: string; bytes: number; pruned: string[] }>(
      ["db", "backup", "--dir", dir, "--keep-days", "30"],
      { DATABASE_URL: source },
    );
    backupFile = result.file;
    expect(path.basename(backupFile)).toMatch(/^turkey_backup_\d{8}_\d{6}\.sql\.gz$/);
    expect(result.pruned).toEqual(["turkey_backup_20200101_000000.sql.gz"]);
    expect(((await stat(backupFile)).mode & 0o777).toString(8)).toBe("600");
    await expect(stat(recent)).resolves.toBeDefined();
    await expect(stat(unrelated)).resolves.toBeDefined();
  });

  it("restores into a fresh database with the same rows", async () => {
    const target = freshTarget;
    // As on a new server: the role first (this leaves the database empty), then the data.
    const grants = await gravy(["db", "grants", "--apply", "--role", role], { DATABASE_URL: target });
    expect(grants.code).toBe(0);
    const restored = await gravy(["db", "restore", backupFile], { DATABASE_URL: target });
    expect(restored.stderr).toBe("");
    expect(restored.stdout).toMatch(/^Restore completed: turkey_backup_\d{8}_\d{6}\.sql\.gz into /);
    const expected = await snapshot(source);
    expect(expected.users).toHaveLength(3);
    expect(await snapshot(target)).toEqual(expected);
    expect((await gravy(["db", "status"], { DATABASE_URL: target })).stdout).toContain(
      `${MIGRATIONS} applied, 0 pending`,
    );
  });

  it("refuses a database that is not empty, and a damaged file", async () => {
    const busy = await gravy(["db", "restore", backupFile], { DATABASE_URL: source });
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(
      /is not empty \(\d+ tables or sequences\): restore into a new, empty database\n$/,
    );

    const damaged = path.join(dir, "damaged.sql.gz");
    await writeFile(damaged, "not gzip at all");
    const result = await gravy(["db", "restore", damaged], { DATABASE_URL: otherFreshTarget });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Backup damaged\.sql\.gz is damaged: .*\n$/);
  });

  it("explains an unwritable folder", async () => {
    const file = path.join(dir, "a-file");
    await writeFile(file, "");
    const result = await gravy(["db", "backup", "--dir", path.join(file, "sub")], { DATABASE_URL: source });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Cannot write backups to .*sub: not a directory, mkdir .*\n$/);
  });
});
