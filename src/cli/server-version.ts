/**
 * The oldest PostgreSQL server Turkey runs on: 14, the operations guide's minimum. `gravy db
 * health` reports the server against it; `gravy db migrate` and `npm start` refuse an older one
 * before changing anything, rather than failing halfway through a migration.
 */
import type pg from "pg";
import { CliError } from "./errors";

export const MIN_SERVER_MAJOR = 14;

export interface ServerVersion {
  /** `server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`. */
  version: string;
  /** `server_version_num`, e.g. 150018. */
  number: number;
  major: number;
  supported: boolean;
}

/** From `server_version_num`: 150018 → 15; 90624 → 9 (before 10, majors had two parts). */
export function assessServerVersion(version: string, number: number): ServerVersion {
  const major = Math.floor(number / 10_000);
  return { version, number, major, supported: major >= MIN_SERVER_MAJOR };
}

export async function readServerVersion(pool: pg.Pool): Promise<ServerVersion> {
  const result = await pool.query<{ version: string; num: string }>(
    "select current_setting('server_version') as version, current_setting('server_version_num') as num",
  );
  const row = result.rows[0];
  if (!row) throw new CliError("The server did not report its version");
  return assessServerVersion(row.version, Number(row.num));
}

/** Refuses a server older than the minimum, naming both versions. */
export function requireSupportedServer(server: ServerVersion, label: string): void {
  if (server.supported) return;
  throw new CliError(
    `PostgreSQL ${server.version} at ${label} is too old: Turkey needs PostgreSQL ${MIN_SERVER_MAJOR} or newer. Upgrade the server (or use another one) before migrating.`,
  );
}
