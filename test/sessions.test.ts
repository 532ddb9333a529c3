import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import {
  client,
  createTestApp,
  errorCode,
  manualClock,
  PASSWORD,
  type Tokens,
  uniqueEmail,
} from "./support/fixtures";
import { openTestDatabase, postJson, send } from "./support/worker";

const clock = manualClock();
const app = createApp({ clock: clock.now });
let appA: string;
let appB: string;

beforeAll(async () => {
  appA = await createTestApp("sessions");
  appB = await createTestApp("other");
});

async function refresh(appId: string, refreshToken: string) {
  return client(app, appId).post("/v1/auth/refresh", { refreshToken });
}

async function sessionRows(sessionId: string) {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute<{ access_jti: string; live: boolean }>(
      `select access_jti, (rotated_at is null and revoked_at is null) as live
       from refresh_tokens where session_id = '${sessionId}'`,
    );
    return result.rows;
  } finally {
    await handle.close();
  }
}

describe("POST /v1/auth/refresh", () => {
  it("rotates: a new pair, the same session, the old access token still valid", async () => {
    const api = client(app, appA);
    const first = await api.register();
    const response = await refresh(appA, first.refreshToken);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const second = (await response.json()) as Tokens;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(decodeJwt(second.accessToken).sid).toBe(decodeJwt(first.accessToken).sid);
    expect((await api.get("/v1/auth/me", second.accessToken)).status).toBe(200);
  });

  it("answers a retry within the grace window with the same successor", async () => {
    const first = await client(app, appA).register();
    const a = (await (await refresh(appA, first.refreshToken)).json()) as Tokens;
    clock.advance(5);
    const b = (await (await refresh(appA, first.refreshToken)).json()) as Tokens;
    expect(b.refreshToken).toBe(a.refreshToken);
    expect(b.accessToken).toBe(a.accessToken);
    const rows = await sessionRows(String(decodeJwt(first.accessToken).sid));
    expect(rows.filter((row) => row.live)).toHaveLength(1);
  });

  it("treats reuse after the grace window as theft: the whole session ends", async () => {
    const api = client(app, appA);
    const first = await api.register();
    const second = (await (await refresh(appA, first.refreshToken)).json()) as Tokens;
    clock.advance(11);
    const reuse = await refresh(appA, first.refreshToken);
    expect(reuse.status).toBe(401);
    expect(await errorCode(reuse)).toBe("refresh_token_reused");
    expect(await errorCode(await refresh(appA, second.refreshToken))).toBe("invalid_refresh_token");
    for (const token of [first.accessToken, second.accessToken]) {
      expect(await errorCode(await api.get("/v1/auth/me", token))).toBe("token_revoked");
    }
    const handle = openTestDatabase();
    try {
      const audit = await handle.db.execute(
        `select count(*)::int as n from audit where user_id = '${first.user.id}' and event = 'refresh_token_reused'`,
      );
      expect(audit.rows[0]).toEqual({ n: 1 });
    } finally {
      await handle.close();
    }
  });

  it("keeps one chain under 20 parallel refreshes of the same token", async () => {
    const api = client(app, appA);
    const first = await api.register();
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(appA, first.refreshToken)));
    const bodies = await Promise.all(responses.map((response) => response.json()));
    const ok = bodies.filter((_, i) => responses[i]?.status === 200) as Tokens[];
    for (const [i, response] of responses.entries()) {
      if (response.status !== 200) {
        expect(response.status).toBe(401);
        expect((bodies[i] as { error: { code: string } }).error.code).toMatch(/refresh/);
      }
    }
    expect(ok.length).toBeGreaterThan(0);
    expect(new Set(ok.map((tokens) => tokens.refreshToken)).size).toBe(1);

    const sessionId = String(decodeJwt(first.accessToken).sid);
    const rows = await sessionRows(sessionId);
    expect(rows.filter((row) => row.live)).toHaveLength(1);
    const recorded = new Set(rows.map((row) => row.access_jti));
    for (const tokens of ok) expect(recorded.has(String(decodeJwt(tokens.accessToken).jti))).toBe(true);

    const latest = ok[0] as Tokens;
    expect((await api.post("/v1/auth/logout-all", {}, latest.accessToken)).status).toBe(204);
    for (const token of [first.accessToken, ...ok.map((tokens) => tokens.accessToken)]) {
      expect(await errorCode(await api.get("/v1/auth/me", token))).toBe("token_revoked");
    }
  });

  it("refuses unknown tokens, and expired ones by their code", async () => {
    expect(await errorCode(await refresh(appA, "not-a-token"))).toBe("invalid_refresh_token");
    const tokens = await client(app, appA).register();
    clock.advance(7 * 86_400 + 1);
    expect(await errorCode(await refresh(appA, tokens.refreshToken))).toBe("refresh_token_expired");
  });
});

describe("SESSION_MAX_AGE", () => {
  it("caps every refresh: no session outlives its absolute maximum age", async () => {
    const limits = { SESSION_MAX_AGE: "1h", JWT_REFRESH_EXPIRES_IN: "1h", JWT_ACCESS_EXPIRES_IN: "15m" };
    const timed = manualClock();
    const capped = createApp({ clock: timed.now });
    const refreshCapped = (refreshToken: string) =>
      send(capped, "/v1/auth/refresh", postJson({ refreshToken }, { "x-app-id": appA }), limits);
    const register = await send(
      capped,
      "/v1/auth/register",
      postJson({ email: uniqueEmail(), password: PASSWORD }, { "x-app-id": appA }),
      limits,
    );
    let tokens = (await register.json()) as Tokens & { refreshExpiresIn: number };
    timed.advance(50 * 60);
    const late = await refreshCapped(tokens.refreshToken);
    expect(late.status).toBe(200);
    tokens = (await late.json()) as typeof tokens;
    expect(tokens.refreshExpiresIn).toBeLessThanOrEqual(10 * 60);
    const { exp = 0, iat = 0 } = decodeJwt(tokens.accessToken);
    expect(exp - iat).toBeLessThanOrEqual(10 * 60);
    timed.advance(10 * 60 + 1);
    expect(await errorCode(await refreshCapped(tokens.refreshToken))).toBe("refresh_token_expired");
  });
});

describe("access-token expiry", () => {
  it("refuses a token past its exp with token_expired", async () => {
    const api = client(app, appA);
    const tokens = await api.register();
    clock.advance(899);
    expect((await api.get("/v1/auth/me", tokens.accessToken)).status).toBe(200);
    clock.advance(60);
    expect(await errorCode(await api.get("/v1/auth/me", tokens.accessToken))).toBe("token_expired");
  });
});

describe("logout", () => {
  it("revokes the access token and its session's refresh token", async () => {
    const api = client(app, appA);
    const tokens = await api.register();
    const response = await api.post(
      "/v1/auth/logout",
      { refreshToken: tokens.refreshToken },
      tokens.accessToken,
    );
    expect(response.status).toBe(204);
    expect(await errorCode(await api.get("/v1/auth/me", tokens.accessToken))).toBe("token_revoked");
    expect(await errorCode(await refresh(appA, tokens.refreshToken))).toBe("invalid_refresh_token");
  });

  it("logout-all ends every session of the user in this app only", async () => {
    const email = `multi-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const inA = client(app, appA);
    const first = await inA.register(email);
    const second = await inA.login(email);
    const other = await client(app, appB).register(email);

    expect((await inA.post("/v1/auth/logout-all", {}, second.accessToken)).status).toBe(204);
    for (const tokens of [first, second]) {
      expect(await errorCode(await inA.get("/v1/auth/me", tokens.accessToken))).toBe("token_revoked");
      expect(await errorCode(await refresh(appA, tokens.refreshToken))).toBe("invalid_refresh_token");
    }
    expect((await client(app, appB).get("/v1/auth/me", other.accessToken)).status).toBe(200);
    expect((await refresh(appB, other.refreshToken)).status).toBe(200);
  });
});

describe("sessions", () => {
  it("lists live sessions and marks the current one", async () => {
    const email = `list-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const api = client(app, appA);
    const first = await api.register(email);
    const second = await api.login(email);
    const response = await api.get("/v1/auth/sessions", second.accessToken);
    expect(response.status).toBe(200);
    const { sessions } = (await response.json()) as { sessions: Record<string, unknown>[] };
    expect(sessions).toHaveLength(2);
    const current = sessions.find((session) => session.current);
    expect(current?.id).toBe(decodeJwt(second.accessToken).sid);
    expect(Object.keys(current ?? {}).sort()).toEqual(
      ["createdAt", "current", "id", "ip", "lastUsedAt", "userAgent"].sort(),
    );
    expect(sessions.filter((session) => session.current)).toHaveLength(1);
    expect(sessions.map((session) => session.id)).toContain(decodeJwt(first.accessToken).sid);
  });

  it("revokes one session by id, and refuses ids it does not own", async () => {
    const email = `revoke-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const api = client(app, appA);
    const first = await api.register(email);
    const second = await api.login(email);
    const stranger = await api.register();
    const firstId = String(decodeJwt(first.accessToken).sid);

    const foreign = await api.del(`/v1/auth/sessions/${firstId}`, stranger.accessToken);
    expect(foreign.status).toBe(404);
    expect(await errorCode(foreign)).toBe("not_found");
    expect((await api.get("/v1/auth/me", first.accessToken)).status).toBe(200);

    expect((await api.del(`/v1/auth/sessions/${firstId}`, second.accessToken)).status).toBe(204);
    expect(await errorCode(await api.get("/v1/auth/me", first.accessToken))).toBe("token_revoked");
    expect((await api.get("/v1/auth/me", second.accessToken)).status).toBe(200);
    const { sessions } = (await (await api.get("/v1/auth/sessions", second.accessToken)).json()) as {
      sessions: unknown[];
    };
    expect(sessions).toHaveLength(1);
    expect(await errorCode(await api.del("/v1/auth/sessions/not-a-uuid", second.accessToken))).toBe(
      "validation_failed",
    );
  });
});
