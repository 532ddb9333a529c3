/**
 * The admin API: users and audit of the key's own app, every call audited with the key's
 * name, and a second app's key never seeing or touching the first app's users.
 */
import { sql } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { forgetAppKeys } from "../src/admin/app-keys";
import { EXPORT_PAGE_SIZE } from "../src/admin/audit-log";
import { createApp } from "../src/app";
import { forgetRevocations } from "../src/revocation";
import { admin, createAppKey } from "./support/app-keys";
import { client, createTestApp, errorCode, PASSWORD, uniqueEmail } from "./support/fixtures";
import { mailedToken } from "./support/sdk";
import { openTestDatabase, sendStreamed } from "./support/worker";

const app = createApp();
let appId: string;
let key: string;
let otherAppId: string;
let otherKey: string;

beforeAll(async () => {
  appId = await createTestApp("admin");
  otherAppId = await createTestApp("admin-other");
  key = (await createAppKey(appId, "support-desk")).key;
  otherKey = (await createAppKey(otherAppId, "other-backend")).key;
});
afterEach(() => {
  forgetRevocations();
  forgetAppKeys();
});

const api = () => client(app, appId);
const ops = () => admin(app, key);

interface AdminUser {
  id: string;
  email: string;
  emailVerified: boolean;
  disabledAt: string | null;
}
interface UserPage {
  users: AdminUser[];
  nextCursor: string | null;
}
interface AuditEntry {
  id: string;
  event: string;
  userId: string | null;
  details: Record<string, unknown> | null;
  createdAt: string;
}

async function json<T>(response: Response, status = 200): Promise<T> {
  expect(response.status, await response.clone().text()).toBe(status);
  return (await response.json()) as T;
}

async function pages(prefix: string, limit: number, between?: () => Promise<void>): Promise<AdminUser[]> {
  const seen: AdminUser[] = [];
  let cursor: string | null = null;
  do {
    const query = `?query=${encodeURIComponent(prefix)}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`;
    const page: UserPage = await json(await ops().get(`/users${query}`));
    seen.push(...page.users);
    cursor = page.nextCursor;
    await between?.();
  } while (cursor);
  return seen;
}

describe("GET /v1/admin/users", () => {
  it("finds users by email prefix or id, and pages stay stable while users register", async () => {
    const prefix = `page-${crypto.randomUUID().slice(0, 6)}`;
    const emails = Array.from({ length: 5 }, (_, i) => `${prefix}-${i}@example.com`);
    const created = [];
    for (const email of emails) created.push((await api().register(email)).user);
    let late = 0;
    const seen = await pages(prefix, 2, async () => {
      late++;
      await api().register(`${prefix}-late${late}@example.com`);
    });
    const ids = seen.map((user) => user.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Every user that existed before the first page, in creation order, exactly once.
    expect(ids.slice(0, 5)).toEqual(created.map((user) => user.id));

    const byId: UserPage = await json(await ops().get(`/users?query=${created[2]?.id}`));
    expect(byId.users.map((user) => user.email)).toEqual([emails[2]]);
    const upper: UserPage = await json(await ops().get(`/users?query=${prefix.toUpperCase()}-3`));
    expect(upper.users.map((user) => user.email)).toEqual([emails[3]]);
    // LIKE wildcards in the query are plain characters.
    const wildcard: UserPage = await json(await ops().get(`/users?query=${prefix.slice(0, 4)}%25`));
    expect(wildcard.users).toEqual([]);
  });

  it("refuses a bad limit or cursor", async () => {
    for (const query of ["limit=0", "limit=201", "limit=x", "cursor=not-a-cursor"]) {
      expect(await errorCode(await ops().get(`/users?${query}`))).toBe("validation_failed");
    }
  });
});

describe("GET /v1/admin/users/:id", () => {
  it("shows the user and its live sessions", async () => {
    const email = uniqueEmail();
    const { user } = await api().register(email);
    await api().login(email);
    const detail = await json<{ user: AdminUser; sessions: unknown[]; mfa: unknown }>(
      await ops().get(`/users/${user.id}`),
    );
    expect(detail.user).toMatchObject({ id: user.id, email, disabledAt: null });
    expect(detail.sessions).toHaveLength(2);
    expect(detail.mfa).toEqual({ factors: [], recoveryCodesLeft: 0, passkeys: [] });
    expect(await errorCode(await ops().get(`/users/${crypto.randomUUID()}`))).toBe("not_found");
    expect(await errorCode(await ops().get("/users/not-a-uuid"))).toBe("validation_failed");
  });
});

describe("disable and enable", () => {
  it("a disabled user cannot sign in, refresh, reset or verify; its tokens die at once", async () => {
    const email = uniqueEmail();
    const registered = await api().register(email);
    await api().post("/v1/auth/forgot-password", { email });
    const resetToken = await mailedToken(email, "reset-password");

    const disabled = await json<{ user: AdminUser }>(
      await ops().post(`/users/${registered.user.id}/disable`),
    );
    expect(disabled.user.disabledAt).not.toBeNull();

    const login = await api().post("/v1/auth/login", { email, password: PASSWORD });
    expect([login.status, await errorCode(login)]).toEqual([403, "account_disabled"]);
    const refresh = await api().post("/v1/auth/refresh", { refreshToken: registered.refreshToken });
    expect(await errorCode(refresh)).toBe("account_disabled");
    expect(await errorCode(await api().get("/v1/auth/me", registered.accessToken))).toBe("token_revoked");
    const reset = await api().post("/v1/auth/reset-password", {
      token: resetToken,
      password: "another one entirely",
    });
    expect(await errorCode(reset)).toBe("account_disabled");
    const failures = await json<{ events: AuditEntry[] }>(
      await ops().get(`/audit?userId=${registered.user.id}&event=login_failed`),
    );
    expect(failures.events.map((entry) => entry.details?.reason)).toEqual(["account_disabled"]);
    // A wrong password still says only that: the account's state is for whoever knows the password.
    const wrong = await api().post("/v1/auth/login", { email, password: "not the password" });
    expect(await errorCode(wrong)).toBe("invalid_credentials");

    const enabled = await json<{ user: AdminUser }>(await ops().post(`/users/${registered.user.id}/enable`));
    expect(enabled.user.disabledAt).toBeNull();
    expect((await api().post("/v1/auth/login", { email, password: PASSWORD })).status).toBe(200);
    // The sessions the disabling ended stay ended.
    expect(await errorCode(await api().get("/v1/auth/me", registered.accessToken))).toBe("token_revoked");
  });

  it("answer not_found for a user of no app or of another app", async () => {
    for (const action of ["disable", "enable", "verify-email", "logout"]) {
      expect(await errorCode(await ops().post(`/users/${crypto.randomUUID()}/${action}`))).toBe("not_found");
    }
  });
});

describe("logout and verify-email", () => {
  it("logout ends every session and live access token of the user", async () => {
    const email = uniqueEmail();
    const first = await api().register(email);
    const second = await api().login(email);
    const ended = await json<{ sessionsEnded: number }>(await ops().post(`/users/${first.user.id}/logout`));
    expect(ended.sessionsEnded).toBe(2);
    for (const tokens of [first, second]) {
      forgetRevocations();
      expect(await errorCode(await api().get("/v1/auth/me", tokens.accessToken))).toBe("token_revoked");
      expect((await api().post("/v1/auth/refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
    }
  });

  it("verify-email marks the address verified", async () => {
    const { user } = await api().register();
    const verified = await json<{ user: AdminUser }>(await ops().post(`/users/${user.id}/verify-email`));
    expect(verified.user.emailVerified).toBe(true);
  });
});

describe("DELETE /v1/admin/users/:id", () => {
  it("deletes as the user's own deletion: tokens revoked, rows gone, the audit names the key, not the address", async () => {
    const email = uniqueEmail();
    const first = await api().register(email);
    const second = await api().login(email);
    const other = admin(app, otherKey);
    expect(await errorCode(await other.delete(`/users/${first.user.id}`))).toBe("not_found");
    expect((await api().get("/v1/auth/me", first.accessToken)).status).toBe(200);

    const deleted = await ops().delete(`/users/${first.user.id}`);
    expect(deleted.status).toBe(204);
    for (const tokens of [first, second]) {
      forgetRevocations();
      expect(await errorCode(await api().get("/v1/auth/me", tokens.accessToken))).toBe("token_revoked");
      expect((await api().post("/v1/auth/refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
    }
    expect(await errorCode(await ops().get(`/users/${first.user.id}`))).toBe("not_found");
    expect(await errorCode(await ops().delete(`/users/${first.user.id}`))).toBe("not_found");

    const handle = openTestDatabase();
    try {
      const rows = await handle.db.execute<{ event: string; details: Record<string, unknown> | null }>(
        sql`select event, details from audit where app_id = ${appId} and user_id = ${first.user.id}::uuid`,
      );
      const deletion = rows.rows.find((row) => row.event === "account_deleted");
      expect(deletion?.details).toMatchObject({ reason: "admin_api", appKey: "support-desk" });
      expect(JSON.stringify(rows.rows)).not.toContain(email);
    } finally {
      await handle.close();
    }
    // The address may register again.
    expect((await api().register(email)).user.id).not.toBe(first.user.id);
  });
});

describe("a second app's key", () => {
  it("never sees or touches the first app's users, on any route", async () => {
    const email = uniqueEmail();
    const victim = await api().register(email);
    const other = admin(app, otherKey);
    const listed: UserPage = await json(await other.get(`/users?query=${encodeURIComponent(email)}`));
    expect(listed.users).toEqual([]);
    const byId: UserPage = await json(await other.get(`/users?query=${victim.user.id}`));
    expect(byId.users).toEqual([]);
    expect(await errorCode(await other.get(`/users/${victim.user.id}`))).toBe("not_found");
    for (const action of ["disable", "enable", "verify-email", "logout"]) {
      expect(await errorCode(await other.post(`/users/${victim.user.id}/${action}`))).toBe("not_found");
    }
    expect(await errorCode(await other.delete(`/users/${victim.user.id}`))).toBe("not_found");
    const audit = await json<{ events: AuditEntry[] }>(await other.get(`/audit?userId=${victim.user.id}`));
    expect(audit.events).toEqual([]);
    // Naming the first app with the second app's key is refused outright.
    const named = admin(app, otherKey, { "x-app-id": appId });
    expect(await errorCode(await named.get("/users"))).toBe("invalid_app_key");

    // Nothing happened to the victim.
    const detail = await json<{ user: AdminUser; sessions: unknown[] }>(
      await ops().get(`/users/${victim.user.id}`),
    );
    expect(detail.user).toMatchObject({ disabledAt: null, emailVerified: false });
    expect(detail.sessions).toHaveLength(1);
    expect((await api().get("/v1/auth/me", victim.accessToken)).status).toBe(200);
  });
});

describe("GET /v1/admin/audit", () => {
  it("records every admin call with the key's name, and filters by user, event and time", async () => {
    const since = new Date().toISOString();
    const { user } = await api().register();
    await ops().get(`/users/${user.id}`);
    await ops().post(`/users/${user.id}/disable`);
    const events = await json<{ events: AuditEntry[] }>(
      await ops().get(`/audit?userId=${user.id}&since=${since}`),
    );
    // The verification mail is recorded after the answer to register, so whenever it lands.
    const recorded = events.events
      .map((entry) => entry.event)
      .filter((event) => event !== "verification_sent");
    expect(recorded).toEqual(["register", "admin_user_viewed", "admin_user_disabled"]);
    expect(events.events[2]?.details).toMatchObject({ appKey: "support-desk" });
    const disabled = await json<{ events: AuditEntry[] }>(
      await ops().get(`/audit?userId=${user.id}&event=admin_user_disabled`),
    );
    expect(disabled.events).toHaveLength(1);
    const until = await json<{ events: AuditEntry[] }>(
      await ops().get(`/audit?userId=${user.id}&until=${encodeURIComponent(since)}`),
    );
    expect(until.events).toEqual([]);
    // The reads themselves are audited too.
    const reads = await json<{ events: AuditEntry[] }>(
      await ops().get(`/audit?event=admin_audit_read&since=${since}`),
    );
    expect(reads.events.length).toBeGreaterThan(0);
    expect(reads.events.every((entry) => entry.details?.appKey === "support-desk")).toBe(true);
  });

  it("pages with a cursor, and exports every matching event as NDJSON, a page at a time", async () => {
    const { user } = await api().register();
    const count = EXPORT_PAGE_SIZE * 2 + 7;
    const handle = openTestDatabase();
    try {
      await handle.db.execute(sql`
        insert into audit (app_id, user_id, event, details, created_at)
        select ${appId}, ${user.id}::uuid, 'refresh', jsonb_build_object('n', n), now() + n * interval '1 millisecond'
        from generate_series(1, ${count}) n`);
    } finally {
      await handle.close();
    }
    const paged: AuditEntry[] = [];
    let cursor: string | null = null;
    do {
      const page: { events: AuditEntry[]; nextCursor: string | null } = await json(
        await ops().get(
          `/audit?userId=${user.id}&event=refresh&limit=500${cursor ? `&cursor=${cursor}` : ""}`,
        ),
      );
      paged.push(...page.events);
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged.map((entry) => entry.details?.n)).toEqual(Array.from({ length: count }, (_, i) => i + 1));

    const exported = await sendStreamed(app, `/v1/admin/audit?userId=${user.id}&event=refresh`, {
      headers: { authorization: `Bearer ${key}`, accept: "application/x-ndjson" },
    });
    expect(exported.status).toBe(200);
    expect(exported.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = new TextDecoder()
      .decode(await exported.arrayBuffer())
      .trimEnd()
      .split("\n");
    expect(lines.map((line) => (JSON.parse(line) as AuditEntry).id)).toEqual(paged.map((entry) => entry.id));
  });
});
