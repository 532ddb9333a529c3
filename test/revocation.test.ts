import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { forgetRevocations } from "../src/revocation";
import { client, createTestApp, errorCode, manualClock, type Tokens } from "./support/fixtures";
import { bindings, openTestDatabase, postJson, send } from "./support/worker";

const statements: string[] = [];
const app = createApp({ onQuery: (sql) => statements.push(sql) });
let appA: string;
let appB: string;

beforeAll(async () => {
  appA = await createTestApp("revoke");
  appB = await createTestApp("revoke-other");
});

const introspect = (appId: string, token: string, overrides = {}) =>
  send(app, "/v1/auth/introspect", postJson({ token }, { "x-app-id": appId }), overrides);

/** A KV namespace whose reads fail, as during a KV incident. */
const brokenKv = {
  ...bindings.REVOCATIONS,
  get: () => Promise.reject(new Error("KV unavailable")),
} as unknown as KVNamespace;

describe("POST /v1/auth/introspect", () => {
  it("describes a live token of the calling app, without any SQL", async () => {
    const tokens = await client(app, appA).register();
    await introspect(appA, tokens.accessToken); // registry cache warm
    statements.length = 0;
    const response = await introspect(appA, tokens.accessToken);
    expect(statements).toEqual([]);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    const claims = decodeJwt(tokens.accessToken);
    expect(body).toMatchObject({
      active: true,
      sub: tokens.user.id,
      aud: appA,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      sid: claims.sid,
      email: tokens.user.email,
      email_verified: false,
      amr: ["pwd"],
      aal: 1,
    });
  });

  it("answers {active:false} for garbage, another app's token, and a revoked token", async () => {
    const tokens = await client(app, appA).register();
    for (const response of [
      await introspect(appA, "not-a-jwt"),
      await introspect(appA, ""),
      await introspect(appB, tokens.accessToken),
    ]) {
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ active: false });
    }
    await client(app, appA).post("/v1/auth/logout", {}, tokens.accessToken);
    statements.length = 0;
    expect(await (await introspect(appA, tokens.accessToken)).json()).toEqual({ active: false });
    expect(statements).toEqual([]);
  });

  it("is not a bearer endpoint: a missing token field is a validation error", async () => {
    const response = await send(app, "/v1/auth/introspect", postJson({}, { "x-app-id": appA }));
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("validation_failed");
  });
});

describe("revocation", () => {
  it("records the jti in Postgres and KV, expiring with the token", async () => {
    const tokens = await client(app, appA).register();
    await client(app, appA).post("/v1/auth/logout", {}, tokens.accessToken);
    const { jti, exp, sub } = decodeJwt(tokens.accessToken);
    const handle = openTestDatabase();
    try {
      const rows = await handle.db.execute(
        `select app_id, user_id, extract(epoch from expires_at)::int as exp, published_to_kv
         from revoked_jti where jti = '${jti}'`,
      );
      expect(rows.rows).toEqual([{ app_id: appA, user_id: sub, exp, published_to_kv: true }]);
    } finally {
      await handle.close();
    }
    const kv = await bindings.REVOCATIONS.getWithMetadata(`revoked:${jti}`);
    expect(kv.value).toBe("1");
  });

  it("falls back to Postgres when KV cannot be read", async () => {
    const tokens = await client(app, appA).register();
    const live = await send(
      app,
      "/v1/auth/me",
      { headers: { "x-app-id": appA, authorization: `Bearer ${tokens.accessToken}` } },
      { REVOCATIONS: brokenKv },
    );
    expect(live.status).toBe(200);

    const other = await client(app, appA).login(tokens.user.email);
    await client(app, appA).post("/v1/auth/logout", {}, other.accessToken);
    await bindings.REVOCATIONS.delete(`revoked:${decodeJwt(other.accessToken).jti}`);
    forgetRevocations(); // as in another isolate, which never saw this revocation
    statements.length = 0;
    const response = await introspect(appA, other.accessToken, { REVOCATIONS: brokenKv });
    expect(await response.json()).toEqual({ active: false });
    expect(statements.some((sql) => sql.includes("revoked_jti"))).toBe(true);
  });

  it("REVOCATION_CHECK=db asks Postgres on every check", async () => {
    const tokens = await client(app, appA).register();
    statements.length = 0;
    const response = await send(
      app,
      "/v1/auth/introspect",
      postJson({ token: tokens.accessToken }, { "x-app-id": appA }),
      { REVOCATION_CHECK: "db" },
    );
    expect(((await response.json()) as { active: boolean }).active).toBe(true);
    expect(statements.filter((sql) => sql.includes("revoked_jti"))).toHaveLength(1);
  });

  it("logout-all revokes every live access token of the user in that app only", async () => {
    const email = `all-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const api = client(app, appA);
    const sessions: Tokens[] = [await api.register(email), await api.login(email), await api.login(email)];
    const refreshed = (await (
      await api.post("/v1/auth/refresh", { refreshToken: sessions[0]?.refreshToken })
    ).json()) as Tokens;
    const elsewhere = await client(app, appB).register(email);
    await api.post("/v1/auth/logout-all", {}, sessions[2]?.accessToken);
    for (const tokens of [...sessions, refreshed]) {
      expect(await (await introspect(appA, tokens.accessToken)).json()).toEqual({ active: false });
    }
    expect(
      ((await (await introspect(appB, elsewhere.accessToken)).json()) as { active: boolean }).active,
    ).toBe(true);
  });
});

describe("how long a revocation holds", () => {
  it("as long as the token is accepted: at exp + 10 s a revoked token is refused everywhere", async () => {
    const clock = manualClock();
    const timed = createApp({ clock: clock.now });
    const tokens = await client(timed, appA).register();
    await client(timed, appA).post("/v1/auth/logout", {}, tokens.accessToken);
    const { exp = 0 } = decodeJwt(tokens.accessToken);
    clock.advance(exp - Math.floor(clock.now().getTime() / 1000) + 10);
    for (const mode of ["kv", "db"]) {
      forgetRevocations();
      const overrides = { REVOCATION_CHECK: mode };
      const me = await send(
        timed,
        "/v1/auth/me",
        { headers: { "x-app-id": appA, authorization: `Bearer ${tokens.accessToken}` } },
        overrides,
      );
      expect(me.status).toBe(401);
      const introspection = await send(
        timed,
        "/v1/auth/introspect",
        postJson({ token: tokens.accessToken }, { "x-app-id": appA }),
        overrides,
      );
      expect(await introspection.json()).toEqual({ active: false });
    }
  });
});
