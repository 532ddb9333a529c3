/** `gravy db cleanup`: exactly the expired rows go, and the counts say how many. */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { gravy, gravyJson, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const env = { DATABASE_URL: url };
const HOUR = "interval '1 hour'";

async function seed(): Promise<void> {
  await query(url, "insert into apps (id, name, url) values ('shop', 'Shop', 'https://shop.example.com')");
  const [user] = await query<{ id: string }>(
    url,
    "insert into users (app_id, email, password_hash) values ('shop', 'a@example.com', 'x') returning id",
  );
  const userId = user?.id;
  await query(
    url,
    `insert into revoked_jti (jti, app_id, user_id, expires_at) values
       ('expired-1', 'shop', $1, now() - ${HOUR}), ('expired-2', 'shop', $1, now() - interval '1 second'),
       ('expired-3', 'other', null, now() - interval '30 days'),
       ('live-1', 'shop', $1, now() + ${HOUR}), ('live-2', 'other', null, now() + interval '1 minute')`,
    [userId],
  );
  const refresh = (hash: string, expires: string, revoked: string) =>
    `('shop', $1, gen_random_uuid(), '${hash}', 'jti-${hash}', now(), now(), ${expires}, ${revoked}, now())`;
  await query(
    url,
    `insert into refresh_tokens (app_id, user_id, session_id, token_hash, access_jti, access_expires_at,
       created_at, expires_at, revoked_at, session_created_at) values
       ${refresh("gone-expired", `now() - ${HOUR}`, "null")},
       ${refresh("gone-revoked-long-ago", `now() + ${HOUR}`, "now() - interval '25 hours'")},
       ${refresh("kept-revoked-recently", `now() + ${HOUR}`, `now() - ${HOUR}`)},
       ${refresh("kept-live", "now() + interval '7 days'", "null")}`,
    [userId],
  );
  await query(
    url,
    `insert into email_tokens (app_id, user_id, kind, token_hash, expires_at, used_at) values
       ('shop', $1, 'verify_email', 'gone-used', now() + ${HOUR}, now()),
       ('shop', $1, 'reset_password', 'gone-expired', now() - ${HOUR}, null),
       ('shop', $1, 'reset_password', 'kept-live', now() + ${HOUR}, null)`,
    [userId],
  );
  await query(
    url,
    `insert into mfa_challenges (app_id, user_id, token_hash, password_digest, expires_at) values
       ('shop', $1, 'gone-expired', 'd', now() - ${HOUR}), ('shop', $1, 'kept-live', 'd', now() + ${HOUR})`,
    [userId],
  );
  await query(
    url,
    `insert into passkey_challenges (app_id, user_id, purpose, challenge_hash, expires_at) values
       ('shop', $1, 'register', 'gone-expired', now() - ${HOUR}), ('shop', null, 'login', 'kept-live', now() + ${HOUR})`,
    [userId],
  );
}

describe("db cleanup", () => {
  // The cleanup logs its "Cleanup job completed" line; it is not what these tests read.
  beforeAll(() => void vi.spyOn(console, "log").mockImplementation(() => {}));

  it("deletes exactly the expired rows and reports the counts", async () => {
    await seed();
    const result = await gravyJson<{ counts: Record<string, number>; incomplete: boolean }>(
      ["db", "cleanup"],
      env,
    );
    expect(result.counts).toEqual({
      revokedJti: 3,
      refreshTokensExpired: 1,
      refreshTokensRevoked: 1,
      emailTokensUsed: 1,
      emailTokensExpired: 1,
      mfaChallengesExpired: 1,
      passkeyChallengesExpired: 1,
      emailLogins: 0,
      handoffCodes: 0,
      oauthStates: 0,
      auditPii: 0,
      auditExpired: 0,
    });
    expect(result.incomplete).toBe(false);

    const left = async (table: string, column: string) =>
      (await query<{ key: string }>(url, `select ${column} as key from ${table} order by 1`)).map(
        (row) => row.key,
      );
    expect(await left("revoked_jti", "jti")).toEqual(["live-1", "live-2"]);
    expect(await left("refresh_tokens", "token_hash")).toEqual(["kept-live", "kept-revoked-recently"]);
    expect(await left("email_tokens", "token_hash")).toEqual(["kept-live"]);
    expect(await left("mfa_challenges", "token_hash")).toEqual(["kept-live"]);
    expect(await left("passkey_challenges", "challenge_hash")).toEqual(["kept-live"]);
  });

  it("prints a table, and records each run in the audit trail", async () => {
    const result = await gravy(["db", "cleanup"], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/revoked_jti\s+revocations of expired tokens\s+0\n/);
    expect(result.stdout).toMatch(/Cleanup completed on .* in \d+ ms\./);
    const [run] = await query<{ count: number }>(
      url,
      "select count(*)::int as count from audit where event = 'cleanup_completed'",
    );
    expect(run?.count).toBe(2);
  });
});
