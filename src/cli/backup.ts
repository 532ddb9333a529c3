/**
 * The operations guide's backup script as code: a gzip-compressed plain pg_dump named
 * `turkey_backup_YYYYmmdd_HHMMSS.sql.gz`, verified by decompressing it, old ones pruned; and
 * its restore (`gunzip -c … | psql`). The password travels in PGPASSWORD, never on a command
 * line where `ps` would show it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { CliError } from "./errors";
import type { PgTool } from "./pg-tools";

const BACKUP_NAME = /^turkey_backup_\d{8}_\d{6}\.sql\.gz$/;
const DUMP_TRAILER = "PostgreSQL database dump complete";
const DAY_MS = 86_400_000;

/** Local time, like `date +%Y%m%d_%H%M%S` in the guide's script. */
export function backupFileName(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const date = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return `turkey_backup_${date}_${time}.sql.gz`;
}

export interface BackupRequest {
  url: string;
  dir: string;
  keepDays: number;
  now: Date;
  pgDump: PgTool;
}

export interface BackupResult {
  file: string;
  bytes: number;
  pruned: string[];
}

export async function createBackup(request: BackupRequest): Promise<BackupResult> {
  await mkdir(request.dir, { recursive: true });
  const file = path.join(request.dir, backupFileName(request.now));
  await dumpInto(file, request.url, request.pgDump);
  await verifyBackup(file);
  const pruned = await pruneBackups(request.dir, request.keepDays, request.now, file);
  return { file, bytes: (await stat(file)).size, pruned };
}

/** `pg_dump | gzip > file`; the file is removed again if either side fails. */
async function dumpInto(file: string, url: string, pgDump: PgTool): Promise<void> {
  // Created before pg_dump starts, so a folder problem is reported as one. Backups hold
  // password hashes: readable by their owner only.
  const output = await open(file, "wx", 0o600);
  const { dbname, env } = libpqConnection(url);
  const child = spawn(pgDump.path, ["--no-password", "--dbname", dbname], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const errors = collectText(child);
  const written = pipeline(child.stdout as NodeJS.ReadableStream, createGzip(), output.createWriteStream());
  const [code, writeError] = await Promise.all([exitCode(child), settle(written)]);
  if (code === 0 && !writeError) return;
  await rm(file, { force: true });
  if (code !== 0) throw new CliError(`pg_dump failed: ${lastLine(errors(), `exit code ${code}`)}`);
  throw new CliError(`Cannot write ${file}: ${writeError?.message}`);
}

/** The error a promise rejects with, or undefined once it resolves. */
function settle(promise: Promise<unknown>): Promise<Error | undefined> {
  return promise.then(
    () => undefined,
    (error: Error) => error,
  );
}

/** Decompresses the whole file (like `gunzip -t`) and checks pg_dump finished writing it. */
export async function verifyBackup(file: string): Promise<void> {
  let tail = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      tail = (tail + chunk.toString("utf8")).slice(-512);
      done();
    },
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), sink);
  } catch (error) {
    throw new CliError(`Backup ${path.basename(file)} is damaged: ${(error as Error).message}`);
  }
  if (!tail.includes(DUMP_TRAILER)) throw new CliError(`Backup ${path.basename(file)} is incomplete`);
}

/** Deletes backups older than `keepDays` days, never the one just written. */
export async function pruneBackups(
  dir: string,
  keepDays: number,
  now: Date,
  keep: string,
): Promise<string[]> {
  const pruned: string[] = [];
  for (const name of await readdir(dir)) {
    const file = path.join(dir, name);
    if (!BACKUP_NAME.test(name) || file === keep) continue;
    const { mtime } = await stat(file);
    if (now.getTime() - mtime.getTime() > keepDays * DAY_MS) {
      await rm(file);
      pruned.push(name);
    }
  }
  return pruned.sort();
}

/** Feeds a backup to psql in one transaction that stops at the first error. */
export async function restoreBackup(url: string, file: string, psql: PgTool): Promise<void> {
  const { dbname, env } = libpqConnection(url);
  const args = [
    "-X",
    "-q",
    "--no-password",
    "-v",
    "ON_ERROR_STOP=1",
    "--single-transaction",
    "--dbname",
    dbname,
  ];
  const child = spawn(psql.path, args, {
    env: { ...process.env, ...env },
    stdio: ["pipe", "ignore", "pipe"],
  });
  const errors = collectText(child);
  const fed = pipeline(createReadStream(file), createGunzip(), child.stdin as NodeJS.WritableStream);
  const [code, feeding] = await Promise.all([exitCode(child), settle(fed)]);
  if (code !== 0) throw new CliError(`Restore failed, nothing was changed: ${firstError(errors(), code)}`);
  if (feeding) throw new CliError(`Cannot read ${path.basename(file)}: ${feeding.message}`);
}

/** The URL without its password (which goes to PGPASSWORD instead). */
export function libpqConnection(url: string): { dbname: string; env: Record<string, string> } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = "";
  return { dbname: parsed.toString(), env: password ? { PGPASSWORD: password } : {} };
}

function collectText(child: ChildProcess): () => string {
  let text = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    text = (text + chunk.toString("utf8")).slice(-8192);
  });
  return () => text;
}

function exitCode(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.on("error", (error) => reject(new CliError(`Cannot run ${child.spawnfile}: ${error.message}`)));
    child.on("close", (code) => resolve(code ?? 1));
  });
}

function lastLine(text: string, fallback: string): string {
  return text.trim().split("\n").at(-1)?.trim() || fallback;
}

function firstError(text: string, code: number): string {
  const lines = text.trim().split("\n");
  return (lines.find((line) => line.includes("ERROR")) ?? lines[0] ?? `psql exit code ${code}`).trim();
}
