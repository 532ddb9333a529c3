import { beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { client, createTestApp, errorCode, manualClock, PASSWORD, uniqueEmail } from "./support/fixtures";
import { bindings, openTestDatabase, postJson, send } from "./support/worker";

const clock = manualClock(new Date());
const app = createApp({ clock: clock.now });
const LIMITS = { RATE_LIMIT_MAX_REQUESTS: "3", RATE_LIMIT_WINDOW_MS: "60000" };
let appA: string;
let appB: string;

beforeAll(async () => {
  appA = await createTestApp("limits");
  appB = await createTestApp("limits-b");
});

function login(appId: string, ip: string, body: unknown, overrides: Record<string, unknown> = LIMITS) {
  return send(
    app,
    "/v1/auth/login",
    postJson(body, { "x-app-id": appId, "cf-connecting-ip": ip }),
    overrides,
  );
}
const wrongLogin = () => ({ email: uniqueEmail(), password: "not the password" });

describe("rate limiting per (app, IP)", () => {
  it("allows N in the window, refuses N+1 with the headers, allows again after the window", async () => {
    const ip = "198.51.100.1";
    for (let i = 0; i < 3; i++) {
      const response = await login(appA, ip, wrongLogin());
      expect(response.status).toBe(401);
      expect(response.headers.get("ratelimit-limit")).toBe("3");
      expect(response.headers.get("ratelimit-remaining")).toBe(String(2 - i));
    }
    const refused = await login(appA, ip, wrongLogin());
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe("rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(refused.headers.get("ratelimit-reset"))).toBeLessThanOrEqual(60);

    clock.advance(61);
    expect((await login(appA, ip, wrongLogin())).status).toBe(401);
  });

  it("is a sliding window: a slot frees when its own request leaves the window", async () => {
    const ip = "198.51.100.2";
    await login(appA, ip, wrongLogin());
    clock.advance(30);
    await login(appA, ip, wrongLogin());
    await login(appA, ip, wrongLogin());
    expect((await login(appA, ip, wrongLogin())).status).toBe(429);
    clock.advance(31); // the first request has left the window, the other two have not
    expect((await login(appA, ip, wrongLogin())).status).toBe(401);
    expect((await login(appA, ip, wrongLogin())).status).toBe(429);
  });

  it("counts IPs and apps separately", async () => {
    const ip = "198.51.100.3";
    for (let i = 0; i < 3; i++) await login(appA, ip, wrongLogin());
    expect((await login(appA, ip, wrongLogin())).status).toBe(429);
    expect((await login(appA, "198.51.100.4", wrongLogin())).status).toBe(401);
    expect((await login(appB, ip, wrongLogin())).status).toBe(401);
  });

  it("shares one counter across credential endpoints but not bearer calls, introspection or refresh", async () => {
    const ip = "198.51.100.5";
    const headers = { "x-app-id": appA, "cf-connecting-ip": ip };
    const tokens = await client(app, appA).register();
    for (let i = 0; i < 5; i++) {
      const me = await send(
        app,
        "/v1/auth/me",
        { headers: { ...headers, authorization: `Bearer ${tokens.accessToken}` } },
        LIMITS,
      );
      expect(me.status).toBe(200);
      const introspect = await send(
        app,
        "/v1/auth/introspect",
        postJson({ token: tokens.accessToken }, headers),
        LIMITS,
      );
      expect(introspect.status).toBe(200);
    }
    await send(
      app,
      "/v1/auth/register",
      postJson({ email: uniqueEmail(), password: PASSWORD }, headers),
      LIMITS,
    );
    await send(app, "/v1/auth/refresh", postJson({ refreshToken: tokens.refreshToken }, headers), LIMITS);
    await login(appA, ip, wrongLogin());
    await login(appA, ip, wrongLogin());
    expect(await errorCode(await login(appA, ip, wrongLogin()))).toBe("rate_limited");
  });

  it("writes nothing when it refuses", async () => {
    const ip = "198.51.100.6";
    for (let i = 0; i < 3; i++) await login(appA, ip, wrongLogin());
    const email = uniqueEmail();
    const refused = await send(
      app,
      "/v1/auth/register",
      postJson({ email, password: PASSWORD }, { "x-app-id": appA, "cf-connecting-ip": ip }),
      LIMITS,
    );
    expect(refused.status).toBe(429);
    const handle = openTestDatabase();
    try {
      const rows = await handle.db.execute(`select count(*)::int as n from users where email = '${email}'`);
      expect(rows.rows[0]).toEqual({ n: 0 });
    } finally {
      await handle.close();
    }
  });

  it("fails open when the limiter cannot be reached (the password attempt limit does not)", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = {
      idFromName: () => {
        throw new Error("Durable Object unavailable");
      },
    };
    const response = await send(
      app,
      "/v1/auth/register",
      postJson(
        { email: uniqueEmail(), password: PASSWORD },
        { "x-app-id": appA, "cf-connecting-ip": "198.51.100.7" },
      ),
      { ...LIMITS, RATE_LIMITER: broken } as Record<string, unknown>,
    );
    expect(response.status).toBe(201);
    vi.restoreAllMocks();
  });
});

describe("login lockout per (app, email, client network)", () => {
  it("locks after 5 failures with growing delays, says the same for unknown emails, resets on success", async () => {
    const api = client(app, appA);
    const email = uniqueEmail();
    await api.register(email);
    const attempt = (password: string, who = email) =>
      send(
        app,
        "/v1/auth/login",
        postJson({ email: who, password }, { "x-app-id": appA, "cf-connecting-ip": "203.0.113.9" }),
      );

    for (let i = 0; i < 5; i++)
      expect(await errorCode(await attempt("wrong password"))).toBe("invalid_credentials");
    const locked = await attempt(PASSWORD);
    expect(locked.status).toBe(429);
    expect(await errorCode(locked)).toBe("too_many_attempts");
    expect(Number(locked.headers.get("retry-after"))).toBe(60);

    clock.advance(61);
    expect(await errorCode(await attempt("wrong password"))).toBe("invalid_credentials");
    const longer = await attempt(PASSWORD);
    expect(Number(longer.headers.get("retry-after"))).toBe(120);

    clock.advance(121);
    expect((await attempt(PASSWORD)).status).toBe(200);
    expect(await errorCode(await attempt("wrong password"))).toBe("invalid_credentials");
    expect((await attempt(PASSWORD)).status).toBe(200);

    const ghost = uniqueEmail();
    for (let i = 0; i < 5; i++) await attempt("wrong password", ghost);
    const ghostLocked = await attempt("wrong password", ghost);
    expect(ghostLocked.status).toBe(429);
    expect(await ghostLocked.text()).toBe(await (await attempt("any", ghost)).text());
  });

  it("audits the lock", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    for (let i = 0; i < 5; i++)
      await client(app, appA).post("/v1/auth/login", { email, password: "wrong password" });
    const handle = openTestDatabase();
    try {
      const rows = await handle.db.execute(
        `select event from audit where app_id = '${appA}' and details->>'email' = '${email}' and event = 'account_locked'`,
      );
      expect(rows.rows).toHaveLength(1);
    } finally {
      await handle.close();
    }
  });
});

describe("CORS and response hygiene", () => {
  const ORIGINS = { ALLOWED_ORIGINS: "https://app.example.com,https://admin.example.com" };

  it("answers an allowed origin's preflight with the headers and a max-age", async () => {
    const response = await send(
      app,
      "/v1/auth/login",
      {
        method: "OPTIONS",
        headers: {
          origin: "https://admin.example.com",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type, x-app-id, authorization",
        },
      },
      ORIGINS,
    );
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://admin.example.com");
    expect(response.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-app-id");
    expect(response.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(response.headers.get("access-control-max-age")).toBe("600");
  });

  it("gives any other origin no CORS headers", async () => {
    for (const origin of ["https://evil.example.com", "https://app.example.com.evil.net", "null"]) {
      const response = await send(app, "/health", { headers: { origin } }, ORIGINS);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
    }
    const allowed = await send(app, "/health", { headers: { origin: "https://app.example.com" } }, ORIGINS);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
  });

  it("marks every /v1/auth answer no-store and nosniff, errors included, with no X-Powered-By", async () => {
    const responses = [
      await client(app, appA).post("/v1/auth/login", wrongLogin()),
      await client(app, appA).get("/v1/auth/me"),
      await send(app, "/v1/auth/me"),
    ];
    for (const response of responses) {
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("x-powered-by")).toBeNull();
    }
    expect(bindings.RATE_LIMITER).toBeDefined();
  });
});
