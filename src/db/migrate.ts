/**
 * Applying the drizzle-kit migrations in `migrations/` (Node only). One code path for
 * `npm start`, the tests and `gravy db migrate`.
 */
import { fileURLToPath } from "node:url";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { openNodeDatabase } from "./index";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations", import.meta.url));

export async function applyMigrations(connectionString: string): Promise<void> {
  const handle = openNodeDatabase(connectionString, { min: 0, max: 1 });
  try {
    await migrate(handle.db, { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await handle.close();
  }
}

/** Adds an app to the registry unless it is already there. */
export async function ensureApp(
  connectionString: string,
  app: { id: string; name: string; url: string; hostedPages?: boolean; emailLogin?: boolean },
): Promise<void> {
  const client = new pg.Client({ connectionString });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(
      "insert into apps (id, name, url, hosted_pages, email_login) values ($1, $2, $3, $4, $5) on conflict (id) do nothing",
      [app.id, app.name, app.url, app.hostedPages ?? false, app.emailLogin ?? false],
    );
  } finally {
    await client.end();
  }
}
