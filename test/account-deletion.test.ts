import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { client, createTestApp, errorCode, manualClock, PASSWORD, uniqueEmail } from "./support/fixtures";
import { race } from "./support/gate";
import { auditRows } from "./support/mail";
import { bindings, openTestDatabase, send } from "./support/worker";

const clock = manualClock(new Date());
const app = createApp({ clock: clock.now });
let appA: string;
let appB: string;

beforeAll(async () => {
  appA = await createTestApp("delete");
  appB = await createTestApp("delete-b");
});

const api = () => client(app, appA);

function deleteAccount(accessToken: string | undefined, password: string, appId = appA) {
  return send(app, "/v1/auth/account", {
    method: "DELETE",
    headers: {
      "content-type": "application/json",
      "x-app-id": appId,
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
    },
    body: JSON.stringify({ password }),
  });
}

async function count(query: string): Promise<number> {
  const handle = openTestDatabase();
  try {
    return Number((await handle.db.execute(query)).rows[0]?.n);
  } finally {
    await handle.close();
  }
}

describe("account deletion", () => {
  it("revokes every live token, deletes the user and what is keyed to it, and frees the address", async () => {
    const email = uniqueEmail();
    const first = await api().register(email);
    const second = await api().login(email);
    // A failed attempt whose audit row carries the address.
    await api().post("/v1/auth/login", { email, password: "wrong password" });
    await api().post("/v1/auth/forgot-password", { email });

    const response = await deleteAccount(first.accessToken, PASSWORD);
    expect(response.status).toBe(204);

    for (const tokens of [first, second]) {
      expect(await errorCode(await api().get("/v1/auth/me", tokens.accessToken))).toBe("token_revoked");
      const introspected = await api().post("/v1/auth/introspect", { token: tokens.accessToken });
      expect(await introspected.json()).toEqual({ active: false });
      const kv = await bindings.REVOCATIONS.get(`revoked:${decodeJti(tokens.accessToken)}`);
      expect(kv).toBe("1");
      expect((await api().post("/v1/auth/refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
    }
    const id = first.user.id;
    expect(await count(`select count(*)::int as n from users where id = '${id}'`)).toBe(0);
    expect(await count(`select count(*)::int as n from refresh_tokens where user_id = '${id}'`)).toBe(0);
    expect(await count(`select count(*)::int as n from email_tokens where user_id = '${id}'`)).toBe(0);

    // The audit keeps a pseudonymous record: the id, never the address.
    const rows = await auditRows(id);
    expect(rows.find((row) => row.event === "account_deleted")).toMatchObject({
      details: { reason: "user_request" },
    });
    expect(JSON.stringify(rows)).not.toContain(email);
    expect(
      await count(
        `select count(*)::int as n from audit where app_id = '${appA}' and details::text like '%${email}%'`,
      ),
    ).toBe(0);

    // The address registers again, as a new account.
    const again = await api().register(email);
    expect(again.user.id).not.toBe(id);
  });

  it("refuses a wrong password, counting it against the account", async () => {
    const email = uniqueEmail();
    const user = await api().register(email);
    expect(await errorCode(await deleteAccount(user.accessToken, "not the password"))).toBe(
      "invalid_credentials",
    );
    expect(await count(`select count(*)::int as n from users where id = '${user.user.id}'`)).toBe(1);
    for (let i = 1; i < 5; i++) await deleteAccount(user.accessToken, `wrong ${i}`);
    expect(await errorCode(await deleteAccount(user.accessToken, PASSWORD))).toBe("too_many_attempts");
    expect(await count(`select count(*)::int as n from users where id = '${user.user.id}'`)).toBe(1);
  });

  it("needs a token of the same app, and a second deletion finds no account", async () => {
    const user = await api().register();
    expect(await errorCode(await deleteAccount(undefined, PASSWORD))).toBe("token_missing");
    expect(await errorCode(await deleteAccount(user.accessToken, PASSWORD, appB))).toBe("token_invalid");
    expect((await deleteAccount(user.accessToken, PASSWORD)).status).toBe(204);
    expect(await errorCode(await deleteAccount(user.accessToken, PASSWORD))).toBe("token_revoked");
  });

  it("leaves no session to a login racing the deletion", async () => {
    const email = uniqueEmail();
    const user = await api().register(email);
    // The login is held after checking the password, as it writes its session; the deletion
    // waits for it, then revokes what it wrote.
    const [login, deletion] = await race(
      user.user.id,
      1,
      () => api().post("/v1/auth/login", { email, password: PASSWORD }),
      () => deleteAccount(user.accessToken, PASSWORD),
    );
    expect(deletion.status).toBe(204);
    expect(login.status).toBe(200);
    const tokens = (await login.json()) as { accessToken: string; refreshToken: string };
    expect(await errorCode(await api().get("/v1/auth/me", tokens.accessToken))).toBe("token_revoked");
    expect((await api().post("/v1/auth/refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
    expect(
      await count(`select count(*)::int as n from refresh_tokens where user_id = '${user.user.id}'`),
    ).toBe(0);
  });
});

describe("account export", () => {
  it("downloads the profile, sessions and audit events, without secrets", async () => {
    const email = uniqueEmail();
    const user = await api().register(email);
    await send(app, "/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json", "x-app-id": appA, "user-agent": "Export Test/1.0" },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    const response = await api().get("/v1/auth/account/export", user.accessToken);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="${appA}-account.json"`);
    const text = await response.text();
    const document = JSON.parse(text) as {
      user: { id: string; email: string };
      app: { id: string };
      sessions: { userAgent: string | null }[];
      auditEvents: { event: string }[];
    };
    expect(document.user).toMatchObject({ id: user.user.id, email });
    expect(document.app.id).toBe(appA);
    expect(document.sessions).toHaveLength(2);
    expect(document.sessions.map((session) => session.userAgent)).toContain("Export Test/1.0");
    expect(document.auditEvents.map((event) => event.event)).toEqual(
      expect.arrayContaining(["register", "login_succeeded"]),
    );
    expect(text).not.toContain(user.refreshToken);
    expect(text).not.toMatch(/argon2|scrypt|password_hash|token_hash/);
  });

  it("answers only for a live token of the app", async () => {
    const user = await api().register();
    expect(await errorCode(await api().get("/v1/auth/account/export"))).toBe("token_missing");
    expect(await errorCode(await client(app, appB).get("/v1/auth/account/export", user.accessToken))).toBe(
      "token_invalid",
    );
  });
});

function decodeJti(token: string): string {
  const payload = JSON.parse(atob(token.split(".")[1]?.replace(/-/g, "+").replace(/_/g, "/") ?? "")) as {
    jti: string;
  };
  return payload.jti;
}
