import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { openWorkerDatabase } from "../src/db";
import { apps } from "../src/db/schema";
import { bindings } from "./support/worker";

const SEED_TABLES = [
  "app_keys",
  "apps",
  "audit",
  "audit_chains",
  "email_logins",
  "email_tokens",
  "refresh_tokens",
  "revoked_jti",
  "signing_keys",
  "users",
];
/** Second factors (docs/mfa.md). */
const MFA_TABLES = ["mfa_challenges", "mfa_factors", "recovery_codes"];
/** Sign-ins handed to the app's page (docs/account.md). */
const HANDOFF_TABLES = ["handoff_codes"];
/** Social sign-in (docs/social-sign-in.md). */
const OAUTH_TABLES = ["identities", "oauth_providers", "oauth_redirects", "oauth_states"];
/** Passkeys (docs/mfa.md). */
const PASSKEY_TABLES = ["passkey_challenges", "passkeys"];
const SEED_INDEXES = [
  "users_email_app_idx",
  "users_app_idx",
  "revoked_jti_app_idx",
  "revoked_jti_expires_idx",
  "revoked_jti_user_idx",
];

describe("migrations", () => {
  it("create exactly the seed's tables plus the app registry, app keys, the audit chains, the signing keys, the second-factor tables, the hand-off codes and the passkey tables", async () => {
    const handle = openWorkerDatabase(bindings);
    try {
      const result = await handle.db.execute<{ table_name: string }>(
        sql`select table_name from information_schema.tables
            where table_schema = 'public' order by table_name`,
      );
      expect(result.rows.map((row) => row.table_name)).toEqual(
        [...SEED_TABLES, ...MFA_TABLES, ...HANDOFF_TABLES, ...OAUTH_TABLES, ...PASSKEY_TABLES].sort(),
      );
    } finally {
      await handle.close();
    }
  });

  it("create every index the seed names, on the columns it names", async () => {
    const handle = openWorkerDatabase(bindings);
    try {
      const result = await handle.db.execute<{ indexname: string; indexdef: string }>(
        sql`select indexname, indexdef from pg_indexes where schemaname = 'public'`,
      );
      const definitions = new Map(result.rows.map((row) => [row.indexname, row.indexdef]));
      for (const name of SEED_INDEXES) expect(definitions.has(name), name).toBe(true);
      expect(definitions.get("users_email_app_idx")).toMatch(/UNIQUE INDEX .* \(email, app_id\)/);
      expect(definitions.get("users_app_idx")).toMatch(/\(app_id\)$/);
      expect(definitions.get("revoked_jti_app_idx")).toMatch(/\(app_id\)$/);
      expect(definitions.get("revoked_jti_expires_idx")).toMatch(/\(expires_at\)$/);
      expect(definitions.get("revoked_jti_user_idx")).toMatch(/\(user_id\)$/);
    } finally {
      await handle.close();
    }
  });

  it("key rows with gen_random_uuid()", async () => {
    const handle = openWorkerDatabase(bindings);
    try {
      const result = await handle.db.execute<{ table_name: string; column_default: string }>(
        sql`select table_name, column_default from information_schema.columns
            where table_schema = 'public' and column_name = 'id' and table_name <> 'apps'`,
      );
      expect(result.rows.map((row) => row.table_name).sort()).toEqual([
        "app_keys",
        "audit",
        "email_logins",
        "email_tokens",
        "handoff_codes",
        "identities",
        "mfa_challenges",
        "mfa_factors",
        "oauth_providers",
        "oauth_states",
        "passkey_challenges",
        "passkeys",
        "recovery_codes",
        "refresh_tokens",
        "users",
      ]);
      for (const row of result.rows) expect(row.column_default, row.table_name).toBe("gen_random_uuid()");
    } finally {
      await handle.close();
    }
  });
});

describe.each([
  ["hyperdrive", () => openWorkerDatabase(bindings)],
  [
    "neon",
    () =>
      openWorkerDatabase({
        DATABASE_URL: String(bindings.TEST_DATABASE_URL),
        NEON_WS_PROXY: String(bindings.NEON_WS_PROXY),
      }),
  ],
] as const)("the %s driver", (driver, open) => {
  it("reads and writes through drizzle, transactions included", async () => {
    const handle = open();
    const id = `driver-${driver}-${crypto.randomUUID()}`;
    try {
      expect(handle.driver).toBe(driver);
      await handle.db.transaction(async (tx) => {
        await tx.insert(apps).values({ id, name: "Driver test", url: "https://driver.example.com" });
      });
      const rows = await handle.db.select().from(apps).where(sql`${apps.id} = ${id}`);
      expect(rows).toEqual([
        expect.objectContaining({ id, name: "Driver test", url: "https://driver.example.com" }),
      ]);
      expect(rows[0]?.createdAt).toBeInstanceOf(Date);
    } finally {
      await handle.db.delete(apps).where(sql`${apps.id} = ${id}`);
      await handle.close();
    }
  });

  it("rolls a failed transaction back", async () => {
    const handle = open();
    const id = `rollback-${driver}-${crypto.randomUUID()}`;
    try {
      await expect(
        handle.db.transaction(async (tx) => {
          await tx.insert(apps).values({ id, name: "Never", url: "https://never.example.com" });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      const rows = await handle.db.select().from(apps).where(sql`${apps.id} = ${id}`);
      expect(rows).toEqual([]);
    } finally {
      await handle.close();
    }
  });
});
