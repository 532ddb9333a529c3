import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { client, createTestApp, errorCode, PASSWORD, uniqueEmail } from "./support/fixtures";
import { openTestDatabase, postJson, send } from "./support/worker";

const app = createApp();
let appA: string;
let appB: string;

beforeAll(async () => {
  appA = await createTestApp("portal");
  appB = await createTestApp("admin");
});

async function auditEvents(appId: string, email: string) {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute<{ event: string; user_id: string | null; ip: string | null }>(
      `select event, user_id, ip from audit where app_id = '${appId}'
         and (details->>'email' = '${email}' or user_id in (select id from users where email = '${email}'))
       order by created_at, event`,
    );
    return result.rows;
  } finally {
    await handle.close();
  }
}

describe("the app registry", () => {
  it("refuses a missing X-App-Id", async () => {
    const response = await send(
      app,
      "/v1/auth/login",
      postJson({ email: uniqueEmail(), password: PASSWORD }),
    );
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("unknown_app");
  });

  it("refuses an unregistered or malformed app id", async () => {
    for (const appId of ["no-such-app", "../etc", "x".repeat(100)]) {
      const response = await client(app, appId).post("/v1/auth/login", {
        email: uniqueEmail(),
        password: PASSWORD,
      });
      expect(await errorCode(response)).toBe("unknown_app");
    }
  });
});

describe("POST /v1/auth/register", () => {
  it("creates the user and answers with a token response", async () => {
    const email = uniqueEmail();
    const response = await client(app, appA).post("/v1/auth/register", {
      email,
      password: PASSWORD,
      name: "Ada",
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      user: { appId: appA, email, emailVerified: false, name: "Ada" },
      tokenType: "Bearer",
      expiresIn: 900,
      refreshExpiresIn: 7 * 86_400,
    });
    expect(Object.keys(body.user as object).sort()).toEqual(
      ["appId", "createdAt", "email", "emailVerified", "id", "name"].sort(),
    );
    expect(String(body.refreshToken)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("issues an access token with the contract's claims, audience = app", async () => {
    const tokens = await client(app, appA).register();
    const claims = decodeJwt(tokens.accessToken);
    expect(claims).toMatchObject({
      iss: "turkey",
      sub: tokens.user.id,
      aud: appA,
      email: tokens.user.email,
      email_verified: false,
      amr: ["pwd"],
      aal: 1,
    });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(900);
    expect(typeof claims.jti).toBe("string");
    expect(typeof claims.sid).toBe("string");
  });

  it("normalises the email and refuses a duplicate in the same app with email_taken", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    const response = await client(app, appA).post("/v1/auth/register", {
      email: `  ${email.toUpperCase()} `,
      password: PASSWORD,
    });
    expect(response.status).toBe(409);
    expect(await errorCode(response)).toBe("email_taken");
  });

  it("lets the same email register in two apps with two passwords", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email, "password for portal");
    await client(app, appB).register(email, "password for admin");
    expect((await client(app, appA).login(email, "password for portal")).user.appId).toBe(appA);
    expect((await client(app, appB).login(email, "password for admin")).user.appId).toBe(appB);
    const crossed = await client(app, appA).post("/v1/auth/login", { email, password: "password for admin" });
    expect(await errorCode(crossed)).toBe("invalid_credentials");
  });

  it.each([
    [{ email: "not-an-email", password: PASSWORD }, "email"],
    [{ password: PASSWORD }, "email"],
    [{ email: "a@example.com", password: "short" }, "password"],
    [{ email: "a@example.com", password: "x".repeat(129) }, "password"],
    [{ email: "a@example.com", password: 12345678 }, "password"],
    [[1, 2], undefined],
  ])("refuses %j with validation_failed", async (body, field) => {
    const response = await client(app, appA).post("/v1/auth/register", body);
    expect(response.status).toBe(400);
    const error = ((await response.json()) as { error: { code: string; field?: string } }).error;
    expect(error.code).toBe("validation_failed");
    expect(error.field).toBe(field);
  });

  it("refuses malformed JSON and other content types", async () => {
    const broken = await send(app, "/v1/auth/register", postJson('{"email":', { "x-app-id": appA }));
    expect(broken.status).toBe(400);
    expect(await errorCode(broken)).toBe("invalid_json");
    const form = await send(app, "/v1/auth/register", {
      method: "POST",
      headers: { "x-app-id": appA, "content-type": "application/x-www-form-urlencoded" },
      body: "email=a@example.com&password=xxxxxxxxxx",
    });
    expect(form.status).toBe(415);
    expect(await errorCode(form)).toBe("unsupported_media_type");
  });
});

describe("POST /v1/auth/login", () => {
  it("signs in with the right password", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    const tokens = await client(app, appA).login(` ${email.toUpperCase()}`);
    expect(tokens.user.email).toBe(email);
  });

  it("answers a wrong password and an unknown email identically", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    const wrong = await client(app, appA).post("/v1/auth/login", { email, password: "not the password" });
    const unknown = await client(app, appA).post("/v1/auth/login", {
      email: uniqueEmail(),
      password: "not the password",
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.text()).toBe(await unknown.text());
  });

  it("audits success and failure, including unknown emails without a user", async () => {
    const email = uniqueEmail();
    const api = client(app, appA);
    await send(
      app,
      "/v1/auth/register",
      postJson({ email, password: PASSWORD }, { "x-app-id": appA, "cf-connecting-ip": "203.0.113.7" }),
    );
    await api.login(email);
    await api.post("/v1/auth/login", { email, password: "wrong password" });
    const ghost = uniqueEmail();
    await api.post("/v1/auth/login", { email: ghost, password: "wrong password" });

    const events = (await auditEvents(appA, email)).map((row) => row.event);
    expect(events.sort()).toEqual(["login_failed", "login_succeeded", "register", "verification_sent"]);
    expect((await auditEvents(appA, email)).find((row) => row.event === "register")?.ip).toBe("203.0.113.7");
    const ghostRows = await auditEvents(appA, ghost);
    expect(ghostRows).toEqual([{ event: "login_failed", user_id: null, ip: null }]);
  });
});

describe("GET /v1/auth/me", () => {
  it("returns the caller", async () => {
    const tokens = await client(app, appA).register();
    const response = await client(app, appA).get("/v1/auth/me", tokens.accessToken);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ user: tokens.user });
  });

  it("requires a bearer token", async () => {
    const response = await client(app, appA).get("/v1/auth/me");
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe("token_missing");
  });
});

describe("isolation between apps", () => {
  it("rejects an app-A access token on every protected endpoint called as app B", async () => {
    const tokens = await client(app, appA).register();
    const asB = client(app, appB);
    const calls = [
      () => asB.get("/v1/auth/me", tokens.accessToken),
      () => asB.get("/v1/auth/sessions", tokens.accessToken),
      () => asB.post("/v1/auth/logout", {}, tokens.accessToken),
      () => asB.post("/v1/auth/logout-all", {}, tokens.accessToken),
      () => asB.del(`/v1/auth/sessions/${crypto.randomUUID()}`, tokens.accessToken),
    ];
    for (const call of calls) {
      const response = await call();
      expect(response.status).toBe(401);
      expect(await errorCode(response)).toBe("token_invalid");
    }
    // Still valid where it belongs.
    expect((await client(app, appA).get("/v1/auth/me", tokens.accessToken)).status).toBe(200);
  });

  it("refuses an app-A refresh token presented as app B, without spending it", async () => {
    const tokens = await client(app, appA).register();
    const response = await client(app, appB).post("/v1/auth/refresh", { refreshToken: tokens.refreshToken });
    expect(await errorCode(response)).toBe("invalid_refresh_token");
    const own = await client(app, appA).post("/v1/auth/refresh", { refreshToken: tokens.refreshToken });
    expect(own.status).toBe(200);
  });
});

describe("secrets at rest and in answers", () => {
  it("never returns a password hash and stores only hashes of refresh tokens", async () => {
    const api = client(app, appA);
    const email = uniqueEmail();
    const responses = [
      await api.post("/v1/auth/register", { email, password: PASSWORD }),
      await api.post("/v1/auth/login", { email, password: PASSWORD }),
    ];
    const texts = await Promise.all(responses.map((response) => response.text()));
    const tokens = JSON.parse(texts[1] ?? "{}") as { accessToken: string; refreshToken: string };
    texts.push(await (await api.get("/v1/auth/me", tokens.accessToken)).text());
    texts.push(await (await api.get("/v1/auth/sessions", tokens.accessToken)).text());
    for (const text of texts) {
      expect(text).not.toContain("$scrypt$");
      expect(text).not.toMatch(/password/i);
    }
    const handle = openTestDatabase();
    try {
      const found = await handle.db.execute(
        `select count(*)::int as n from refresh_tokens where token_hash = '${tokens.refreshToken}'`,
      );
      expect(found.rows[0]).toEqual({ n: 0 });
    } finally {
      await handle.close();
    }
  });
});
