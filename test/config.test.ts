import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { ConfigError, PRODUCTION_REQUIRED, parseConfig, parseDurationSeconds } from "../src/config";
import { send } from "./support/worker";

const SECRET = "a".repeat(40);
const PRODUCTION = {
  NODE_ENV: "production",
  JWT_SECRET: SECRET,
  MAILGUN_API_KEY: "key-123",
  MAILGUN_DOMAIN: "mg.example.com",
  FROM_EMAIL: "noreply@example.com",
  ALLOWED_ORIGINS: "https://a.example.com",
};

function configError(vars: Record<string, unknown>): ConfigError {
  try {
    parseConfig(vars);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("applies the operations guide's defaults", () => {
    const config = parseConfig({ JWT_SECRET: SECRET });
    expect(config).toMatchObject({
      nodeEnv: "development",
      dbPoolMin: 2,
      dbPoolMax: 10,
      cleanupIntervalHours: 24,
      accessTtlSeconds: 15 * 60,
      refreshTtlSeconds: 7 * 86_400,
      port: 3000,
      rateLimitWindowMs: 900_000,
      rateLimitMaxRequests: 100,
      allowedOrigins: [],
      mailgunApiBase: "https://api.mailgun.net",
    });
  });

  it("reads every variable into typed, camelCase fields", () => {
    const config = parseConfig({
      JWT_SECRET: SECRET,
      DATABASE_URL: "postgresql://u:p@db.internal:5432/turkey",
      DB_POOL_MIN: "5",
      DB_POOL_MAX: "20",
      CLEANUP_INTERVAL_HOURS: "1",
      JWT_ACCESS_EXPIRES_IN: "90s",
      JWT_REFRESH_EXPIRES_IN: "30d",
      PORT: "8080",
      ALLOWED_ORIGINS: " https://a.example.com , https://b.example.com,",
      RATE_LIMIT_WINDOW_MS: "60000",
      RATE_LIMIT_MAX_REQUESTS: "5",
      MAILGUN_API_BASE: "https://api.eu.mailgun.net/",
    });
    expect(config).toMatchObject({
      databaseUrl: "postgresql://u:p@db.internal:5432/turkey",
      dbPoolMin: 5,
      dbPoolMax: 20,
      cleanupIntervalHours: 1,
      accessTtlSeconds: 90,
      refreshTtlSeconds: 30 * 86_400,
      port: 8080,
      allowedOrigins: ["https://a.example.com", "https://b.example.com"],
      rateLimitWindowMs: 60_000,
      rateLimitMaxRequests: 5,
      mailgunApiBase: "https://api.eu.mailgun.net",
    });
  });

  it("names the bad key and never echoes its value", () => {
    const error = configError({ JWT_SECRET: SECRET, JWT_ACCESS_EXPIRES_IN: "fifteen-minutes-xyz" });
    expect(error.keys).toEqual(["JWT_ACCESS_EXPIRES_IN"]);
    expect(error.message).toContain("JWT_ACCESS_EXPIRES_IN");
    expect(error.message).not.toContain("fifteen-minutes-xyz");
  });

  it("hides a malformed DATABASE_URL, which may hold a password", () => {
    const error = configError({ JWT_SECRET: SECRET, DATABASE_URL: "mysql://root:hunter2@db/x" });
    expect(error.keys).toEqual(["DATABASE_URL"]);
    expect(error.message).not.toContain("hunter2");
  });

  it("requires JWT_SECRET", () => {
    expect(configError({}).keys).toEqual(["JWT_SECRET"]);
  });

  it("rejects numbers out of range and a pool whose minimum exceeds its maximum", () => {
    expect(configError({ JWT_SECRET: SECRET, PORT: "70000" }).keys).toEqual(["PORT"]);
    expect(configError({ JWT_SECRET: SECRET, RATE_LIMIT_MAX_REQUESTS: "1.5" }).keys).toEqual([
      "RATE_LIMIT_MAX_REQUESTS",
    ]);
    expect(configError({ JWT_SECRET: SECRET, DB_POOL_MIN: "11" }).keys).toEqual(["DB_POOL_MIN"]);
  });

  it("accepts a safe production configuration", () => {
    const config = parseConfig({
      ...PRODUCTION,
      DATABASE_URL: "postgresql://u:p@db:5432/turkey?sslmode=require",
    });
    expect(config.nodeEnv).toBe("production");
  });

  it("refuses a short JWT_SECRET in production", () => {
    expect(configError({ ...PRODUCTION, JWT_SECRET: "short-secret" }).keys).toEqual(["JWT_SECRET"]);
  });

  it("refuses a DATABASE_URL without sslmode=require in production", () => {
    const error = configError({ ...PRODUCTION, DATABASE_URL: "postgresql://u:p@db:5432/turkey" });
    expect(error.keys).toEqual(["DATABASE_URL"]);
  });

  it("refuses production without Mailgun or allowed origins", () => {
    const { MAILGUN_API_KEY: _key, ALLOWED_ORIGINS: _origins, ...rest } = PRODUCTION;
    expect(configError(rest).keys).toEqual(["MAILGUN_API_KEY", "ALLOWED_ORIGINS"]);
  });

  it("names each missing production variable by its own key", () => {
    for (const key of Object.keys(PRODUCTION_REQUIRED)) {
      const { [key as keyof typeof PRODUCTION]: _missing, ...rest } = PRODUCTION;
      expect(configError(rest).keys).toEqual([key]);
    }
  });

  it("refuses a Mailgun sandbox domain in production, and only there", () => {
    const sandbox = { ...PRODUCTION, MAILGUN_DOMAIN: "sandbox0123456789abcdef0123456789ab.mailgun.org" };
    expect(configError(sandbox).keys).toEqual(["MAILGUN_DOMAIN"]);
    expect(configError({ ...sandbox, MAILGUN_DOMAIN: "Sandbox42.Mailgun.org" }).keys).toEqual([
      "MAILGUN_DOMAIN",
    ]);
    expect(parseConfig({ ...sandbox, NODE_ENV: "development" }).mailgunDomain).toBe(sandbox.MAILGUN_DOMAIN);
    expect(parseConfig({ ...PRODUCTION, MAILGUN_DOMAIN: "sandbox.example.com" }).mailgunDomain).toBe(
      "sandbox.example.com",
    );
  });

  it("allows a short secret outside production", () => {
    expect(parseConfig({ JWT_SECRET: "dev" }).jwtSecret).toBe("dev");
  });
});

describe("lifetimes", () => {
  it("refuses an access token that would outlive its refresh token", () => {
    const error = configError({
      JWT_SECRET: SECRET,
      JWT_ACCESS_EXPIRES_IN: "8d",
      JWT_REFRESH_EXPIRES_IN: "7d",
    });
    expect(error.keys).toEqual(["JWT_ACCESS_EXPIRES_IN"]);
  });

  it("refuses a refresh token that would outlive SESSION_MAX_AGE, which defaults to 30 days", () => {
    expect(parseConfig({ JWT_SECRET: SECRET }).sessionMaxAgeSeconds).toBe(30 * 86_400);
    const error = configError({ JWT_SECRET: SECRET, SESSION_MAX_AGE: "1d", JWT_REFRESH_EXPIRES_IN: "7d" });
    expect(error.keys).toEqual(["SESSION_MAX_AGE"]);
  });
});

describe("inside the Worker", () => {
  it("runs as production when NODE_ENV is not set", async () => {
    // The test bindings set no ALLOWED_ORIGINS, which production refuses.
    const response = await send(createApp(), "/health", {}, { NODE_ENV: undefined });
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("configuration_error");
    expect((await send(createApp(), "/health", {}, { NODE_ENV: "development" })).status).toBe(200);
  });
});

describe("parseDurationSeconds", () => {
  it.each([
    ["900", 900],
    ["45s", 45],
    ["15m", 900],
    ["2h", 7200],
    ["7d", 604_800],
    ["1w", 604_800],
    ["1500ms", 1],
  ])("%s is %i seconds", (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it.each(["", "15 minutes", "-5m", "1.5h", "0", "m"])("rejects %j", (text) => {
    expect(parseDurationSeconds(text)).toBeUndefined();
  });
});
