/**
 * The app registry from the command line. Removing an app deletes its users, sessions and
 * email tokens (the foreign keys cascade), so it is refused while users exist unless forced.
 * Workers cache the registry for 30 s, so a change reaches them within that time.
 */
import type pg from "pg";
import { inTransaction } from "./database";
import { CliError } from "./errors";

// The rule the Worker applies to X-App-Id: an app it could never be called as is refused here.
const APP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface NewApp {
  id: string;
  name: string;
  url: string;
}

export interface AppSummary extends NewApp {
  users: number;
  createdAt: Date;
}

/** Checks and normalises a new app; the URL loses trailing slashes, as email links append paths. */
export function checkNewApp(input: {
  id: string;
  name: string | undefined;
  url: string | undefined;
}): NewApp {
  if (!APP_ID.test(input.id)) {
    throw new CliError(
      "appId must be 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  }
  const name = input.name?.trim();
  if (!name) throw new CliError("--name is required");
  if (!input.url) throw new CliError("--url is required (the app's own site; email links point there)");
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new CliError("--url must be an absolute http(s) URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new CliError("--url must be an http(s) URL");
  return { id: input.id, name, url: url.toString().replace(/\/+$/, "") };
}

export async function addApp(pool: pg.Pool, app: NewApp): Promise<void> {
  const result = await pool.query(
    "insert into apps (id, name, url) values ($1, $2, $3) on conflict (id) do nothing",
    [app.id, app.name, app.url],
  );
  if (result.rowCount === 0) throw new CliError(`App "${app.id}" already exists`);
}

export async function listApps(pool: pg.Pool): Promise<AppSummary[]> {
  const result = await pool.query<AppSummary>(
    `select a.id, a.name, a.url, a.created_at as "createdAt",
       (select count(*)::int from users u where u.app_id = a.id) as users
     from apps a order by a.id`,
  );
  return result.rows;
}

/** Deletes the app; returns how many users went with it. */
export async function removeApp(pool: pg.Pool, id: string, force: boolean): Promise<number> {
  return inTransaction(pool, async (client) => {
    // Locks the app row, so no user can register between the count and the delete.
    const found = await client.query("select id from apps where id = $1 for update", [id]);
    if (found.rowCount === 0) throw new CliError(`No app "${id}"`);
    const counted = await client.query<{ users: number }>(
      "select count(*)::int as users from users where app_id = $1",
      [id],
    );
    const users = counted.rows[0]?.users ?? 0;
    if (users > 0 && !force) {
      throw new CliError(
        `App "${id}" has ${users} user${users === 1 ? "" : "s"}; pass --force to delete it with its users, sessions and email tokens`,
      );
    }
    await client.query("delete from apps where id = $1", [id]);
    return users;
  });
}

/** Per-app switches, as `gravy app set` takes them. */
export interface AppSettings {
  emailLogin?: boolean;
  emailSignup?: boolean;
  hostedPages?: boolean;
}

const SETTING_COLUMNS: Record<keyof AppSettings, string> = {
  emailLogin: "email_login",
  emailSignup: "email_signup",
  hostedPages: "hosted_pages",
};

/** Changes the given switches; returns the app's switches afterwards. */
export async function setAppSettings(
  pool: pg.Pool,
  id: string,
  settings: AppSettings,
): Promise<Required<AppSettings>> {
  const entries = Object.entries(settings).filter(([, value]) => value !== undefined);
  if (entries.length === 0)
    throw new CliError("Nothing to set: give --email-login, --email-signup or --hosted-pages");
  const assignments = entries.map(
    ([key], index) => `${SETTING_COLUMNS[key as keyof AppSettings]} = $${index + 2}`,
  );
  const result = await pool.query<Required<AppSettings>>(
    `update apps set ${assignments.join(", ")} where id = $1
     returning email_login as "emailLogin", email_signup as "emailSignup", hosted_pages as "hostedPages"`,
    [id, ...entries.map(([, value]) => value)],
  );
  const row = result.rows[0];
  if (!row) throw new CliError(`No app "${id}"`);
  return row;
}
