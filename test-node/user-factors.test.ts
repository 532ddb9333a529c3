/** `gravy user factors` and `gravy user factors remove`: support can see and remove a user's second factors and passkeys, audited. */
import { describe, expect, it } from "vitest";
import { gravy, gravyJson, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const env = { DATABASE_URL: url };
await query(
  url,
  "insert into apps (id, name, url) values ('shop', 'Shop', 'https://shop.example'), ('blog', 'Blog', 'https://blog.example')",
);
const [ada] = await query<{ id: string }>(
  url,
  "insert into users (app_id, email, password_hash) values ('shop', 'ada@example.com', 'x') returning id",
);
await query(
  url,
  `with blog as (insert into users (app_id, email, password_hash) values ('blog', 'ada@example.com', 'x') returning id)
   insert into mfa_factors (app_id, user_id, kind, secret_sealed) select 'blog', id, 'totp', 'v1.pending' from blog`,
);
await query(
  url,
  "insert into mfa_factors (app_id, user_id, kind, secret_sealed, confirmed_at) values ('shop', $1, 'totp', 'v1.sealed', now())",
  [ada?.id],
);
await query(
  url,
  "insert into recovery_codes (app_id, user_id, code_hash) select 'shop', $1, md5(i::text) from generate_series(1, 10) i",
  [ada?.id],
);

const [passkey] = await query<{ id: string }>(
  url,
  `insert into passkeys (app_id, user_id, credential_id, public_key, device_type, backed_up, name)
   values ('shop', $1, 'cred-1', 'pk', 'multiDevice', true, 'Phone') returning id`,
  [ada?.id],
);

describe("user factors", () => {
  it("lists the factor and the recovery codes left, per app", async () => {
    const shop = await gravyJson<{ factors: { kind: string }[]; recoveryCodesLeft: number }>(
      ["user", "factors", "shop", " Ada@Example.com"],
      env,
    );
    expect(shop).toMatchObject({
      factors: [{ kind: "totp" }],
      recoveryCodesLeft: 10,
      passkeys: [{ id: passkey?.id, name: "Phone", deviceType: "multiDevice", lastUsedAt: null }],
    });
    const blog = await gravyJson<object>(["user", "factors", "blog", "ada@example.com"], env);
    expect(blog).toMatchObject({ factors: [{ kind: "totp", confirmedAt: null }], recoveryCodesLeft: 0 });
    const text = await gravy(["user", "factors", "shop", "ada@example.com"], env);
    expect(text.stdout).toMatch(/totp\s+-\s+active/);
    expect(text.stdout).toMatch(/passkey \(synced\)\s+Phone\s+active/);
    const unknown = await gravy(["user", "factors", "shop", "nobody@example.com"], env);
    expect(unknown.code).toBe(1);
  });

  it("removes them only with --yes, leaves the other app alone, and audits it", async () => {
    const refused = await gravy(["user", "factors", "remove", "shop", "ada@example.com"], env);
    expect(refused.code).toBe(1);
    expect(await query(url, "select 1 from mfa_factors")).toHaveLength(2);

    const removed = await gravyJson<{ removed: string[] }>(
      ["user", "factors", "remove", "shop", "ada@example.com", "--yes"],
      env,
    );
    expect(removed.removed).toEqual(["totp", "passkeys"]);
    expect(await query(url, "select 1 from passkeys")).toHaveLength(0);
    expect(await query(url, "select app_id from mfa_factors")).toEqual([{ app_id: "blog" }]);
    expect(await query(url, "select 1 from recovery_codes")).toHaveLength(0);
    const audit = await query<{ event: string; details: { by: string } }>(
      url,
      "select event, details from audit where user_id = $1 order by event",
      [ada?.id],
    );
    expect(audit).toEqual([
      { event: "mfa_disabled", details: { kind: "totp", by: "gravy" } },
      { event: "passkey_deleted", details: { passkeyId: passkey?.id, name: "Phone", by: "gravy" } },
    ]);
  });
});
