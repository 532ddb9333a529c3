/**
 * Guessing stays bounded, and the bound cannot be turned against the owner: attempts are
 * reserved before the hash is checked, locks are per client network under an account-wide
 * ceiling, the attempt limit fails closed, IPv6 clients count per /64, and refresh is
 * budgeted per session rather than per address.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
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
import { mailedToken } from "./support/sdk";
import { postJson, send } from "./support/worker";

const clock = manualClock(new Date());
const app = createApp({ clock: clock.now });
let appId: string;

beforeAll(async () => {
  appId = await createTestApp("guessing");
});

function post(
  path: string,
  body: unknown,
  ip: string,
  overrides: Record<string, unknown> = {},
  token?: string,
) {
  const headers: Record<string, string> = { "x-app-id": appId, "cf-connecting-ip": ip };
  if (token) headers.authorization = `Bearer ${token}`;
  return send(app, path, postJson(body, headers), overrides);
}
const login = (email: string, password: string, ip: string, overrides: Record<string, unknown> = {}) =>
  post("/v1/auth/login", { email, password }, ip, overrides);

async function codes(responses: Response[]): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (const response of responses) {
    const code = response.status === 200 ? "ok" : await errorCode(response);
    tally[code] = (tally[code] ?? 0) + 1;
  }
  return tally;
}

describe("parallel guesses", () => {
  it("answers at most LOGIN_LOCKOUT_THRESHOLD of 30 parallel wrong passwords; the rest are 429", async () => {
    const email = uniqueEmail();
    await client(app, appId).register(email);
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => login(email, "wrong password", "198.51.100.20")),
    );
    const tally = await codes(responses);
    expect(tally.invalid_credentials ?? 0).toBeLessThanOrEqual(5);
    expect((tally.invalid_credentials ?? 0) + (tally.too_many_attempts ?? 0)).toBe(30);
    for (const response of responses.filter((r) => r.status === 429)) {
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Settled: the network is locked now, even for the right password.
    expect(await errorCode(await login(email, PASSWORD, "198.51.100.20"))).toBe("too_many_attempts");
  });
});

describe("the attempt limit", () => {
  it("fails closed: without it a login is 503 temporarily_unavailable with Retry-After", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const email = uniqueEmail();
    await client(app, appId).register(email);
    const broken = {
      idFromName: () => {
        throw new Error("Durable Object unavailable");
      },
    };
    const response = await login(email, PASSWORD, "198.51.100.21", { RATE_LIMITER: broken });
    expect(response.status).toBe(503);
    expect(await errorCode(response)).toBe("temporarily_unavailable");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    // The per-network rate limit alone still fails open (registration has no attempt limit).
    const register = await post(
      "/v1/auth/register",
      { email: uniqueEmail(), password: PASSWORD },
      "198.51.100.21",
      {
        RATE_LIMITER: broken,
      },
    );
    expect(register.status).toBe(201);
    vi.restoreAllMocks();
  });

  it("locks the attacker's network, never the owner's at theirs", async () => {
    const email = uniqueEmail();
    await client(app, appId).register(email);
    for (let i = 0; i < 5; i++) {
      expect(await errorCode(await login(email, "wrong password", "203.0.113.50"))).toBe(
        "invalid_credentials",
      );
    }
    expect(await errorCode(await login(email, PASSWORD, "203.0.113.50"))).toBe("too_many_attempts");
    expect((await login(email, PASSWORD, "192.0.2.77")).status).toBe(200);
  });

  it("bounds distributed guessing with an account-wide ceiling; a password reset clears it all", async () => {
    const CEILING = { LOGIN_FAILURE_CEILING: "8" };
    const email = uniqueEmail();
    await client(app, appId).register(email);
    // Two failures from each of four networks: under every per-network lock, at the ceiling.
    for (let network = 1; network <= 4; network++) {
      for (let i = 0; i < 2; i++) {
        const response = await login(email, "wrong password", `203.0.113.${60 + network}`, CEILING);
        expect(await errorCode(response)).toBe("invalid_credentials");
      }
    }
    const refused = await login(email, PASSWORD, "192.0.2.78", CEILING);
    expect(await errorCode(refused)).toBe("too_many_attempts");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(3600);

    await post("/v1/auth/forgot-password", { email }, "192.0.2.78", CEILING);
    const token = await mailedToken(email, "reset-password");
    const reset = await post("/v1/auth/reset-password", { token, password: PASSWORD }, "192.0.2.78", CEILING);
    expect(reset.status).toBe(200);
    expect((await login(email, PASSWORD, "203.0.113.61", CEILING)).status).toBe(200);
  });

  it("counts IPv6 clients per /64", async () => {
    const email = uniqueEmail();
    await client(app, appId).register(email);
    for (let i = 1; i <= 5; i++) {
      const response = await login(email, "wrong password", `2001:db8:aa:bb:${i}::${i}`);
      expect(await errorCode(response)).toBe("invalid_credentials");
    }
    expect(await errorCode(await login(email, PASSWORD, "2001:db8:aa:bb:ffff:ffff:ffff:ffff"))).toBe(
      "too_many_attempts",
    );
    expect((await login(email, PASSWORD, "2001:db8:aa:bc::1")).status).toBe(200);
  });

  it("applies to change-password too, per account, with the same rate limit as login", async () => {
    const email = uniqueEmail();
    const own = await client(app, appId).register(email);
    const change = (currentPassword: string, overrides: Record<string, unknown> = {}) =>
      post(
        "/v1/auth/change-password",
        { currentPassword, newPassword: "a brand new passphrase" },
        "198.51.100.22",
        overrides,
        own.accessToken,
      );
    for (let i = 0; i < 5; i++)
      expect(await errorCode(await change("wrong password"))).toBe("invalid_credentials");
    expect(await errorCode(await change(PASSWORD))).toBe("too_many_attempts");
    // The lock is the account's: a login from the same network is refused as well.
    expect(await errorCode(await login(email, PASSWORD, "198.51.100.22"))).toBe("too_many_attempts");

    const limited = await change(PASSWORD, { RATE_LIMIT_MAX_REQUESTS: "1" });
    expect(await errorCode(limited)).toBe("rate_limited");
  });
});

describe("the per-network rate limit", () => {
  const LIMITS = { RATE_LIMIT_MAX_REQUESTS: "3", RATE_LIMIT_WINDOW_MS: "60000" };

  it("counts every address of one IPv6 /64 together, and other /64s apart", async () => {
    const attempt = (ip: string) => login(uniqueEmail(), "wrong password", ip, LIMITS);
    for (const ip of ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:abcd::9"]) {
      expect((await attempt(ip)).status).toBe(401);
    }
    expect(await errorCode(await attempt("2001:db8:1:2:ffff::1"))).toBe("rate_limited");
    expect((await attempt("2001:db8:1:3::1")).status).toBe(401);
  });

  it("does not count refresh: a whole NAT can refresh its sessions", async () => {
    const ip = "198.51.100.23";
    const sessions: Tokens[] = [];
    for (let i = 0; i < 3; i++) sessions.push(await client(app, appId).register());
    for (const tokens of [...sessions, ...sessions]) {
      const response = await post("/v1/auth/refresh", { refreshToken: tokens.refreshToken }, ip, LIMITS);
      expect(response.status).toBe(200);
      tokens.refreshToken = ((await response.json()) as Tokens).refreshToken;
    }
  });

  it("budgets refresh per session: 60 per 15 minutes, then 429 with Retry-After", async () => {
    let tokens = await client(app, appId).register();
    for (let i = 0; i < 60; i++) {
      const response = await post("/v1/auth/refresh", { refreshToken: tokens.refreshToken }, "198.51.100.24");
      expect(response.status).toBe(200);
      tokens = (await response.json()) as Tokens;
    }
    const refused = await post("/v1/auth/refresh", { refreshToken: tokens.refreshToken }, "198.51.100.24");
    expect(await errorCode(refused)).toBe("rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    clock.advance(15 * 60 + 1);
    expect(
      (await post("/v1/auth/refresh", { refreshToken: tokens.refreshToken }, "198.51.100.24")).status,
    ).toBe(200);
  });

  it("puts a ceiling of 10× the limit on refresh tokens that match no session, per network", async () => {
    const ip = "198.51.100.25";
    for (let i = 0; i < 30; i++) {
      const response = await post("/v1/auth/refresh", { refreshToken: `guess-${i}` }, ip, LIMITS);
      expect(await errorCode(response)).toBe("invalid_refresh_token");
    }
    const refused = await post("/v1/auth/refresh", { refreshToken: "guess-31" }, ip, LIMITS);
    expect(await errorCode(refused)).toBe("rate_limited");
    const live = await client(app, appId).register();
    expect((await post("/v1/auth/refresh", { refreshToken: live.refreshToken }, ip, LIMITS)).status).toBe(
      200,
    );
  });
});
