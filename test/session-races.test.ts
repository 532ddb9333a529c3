/**
 * Ending sessions is final, even against requests already in flight. Each test holds the
 * competing requests at a barrier inside Postgres (test/support/gate.ts) at the moment they
 * would create a session, lets the ending request run, opens the barrier, and then checks
 * every token any request returned: refresh → 401, bearer → 401, introspection → inactive.
 */
import { decodeJwt } from "jose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { DEFAULT_POLICY, hashPassword } from "../src/auth/passwords";
import { forgetRevocations } from "../src/revocation";
import {
  client,
  createTestApp,
  errorCode,
  manualClock,
  PASSWORD,
  type Tokens,
  uniqueEmail,
} from "./support/fixtures";
import { race } from "./support/gate";
import { mailedToken } from "./support/sdk";
import { openTestDatabase } from "./support/worker";

const app = createApp();
const NEW_PASSWORD = "a completely different passphrase";
const PARALLEL = 4;
let appId: string;

beforeAll(async () => {
  appId = await createTestApp("races");
});
afterEach(() => forgetRevocations());

const api = () => client(app, appId);

async function tokensOf(responses: Response[]): Promise<Tokens[]> {
  const ok = responses.filter((response) => response.status === 200);
  return (await Promise.all(ok.map((response) => response.json()))) as Tokens[];
}

/** The property: nothing of these token pairs works anywhere any more. */
async function expectDead(all: Tokens[]): Promise<void> {
  for (const tokens of all) {
    forgetRevocations(); // as another isolate would see it: KV and Postgres only
    const introspection = await api().post("/v1/auth/introspect", { token: tokens.accessToken });
    expect(await introspection.json()).toEqual({ active: false });
    expect((await api().get("/v1/auth/me", tokens.accessToken)).status).toBe(401);
    expect((await api().post("/v1/auth/refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
  }
}

function loginAll(email: string, password: string, count = PARALLEL): Promise<Response[]> {
  return Promise.all(Array.from({ length: count }, () => api().post("/v1/auth/login", { email, password })));
}

describe("a password reset racing logins with the old password", () => {
  it("ends every session those logins create, even the ones still in flight", async () => {
    const email = uniqueEmail();
    const { user } = await api().register(email);
    await api().post("/v1/auth/forgot-password", { email });
    const resetToken = await mailedToken(email, "reset-password");

    const [logins, reset] = await race(
      user.id,
      PARALLEL,
      () => loginAll(email, PASSWORD),
      () => api().post("/v1/auth/reset-password", { token: resetToken, password: NEW_PASSWORD }),
    );
    expect(reset.status).toBe(200);
    const issued = await tokensOf(logins);
    expect(issued.length).toBeGreaterThan(0);
    await expectDead(issued);
    expect((await api().post("/v1/auth/login", { email, password: NEW_PASSWORD })).status).toBe(200);
  });

  it("holds for logins and resets let loose together, in whatever order they land", async () => {
    const email = uniqueEmail();
    await api().register(email);
    await api().post("/v1/auth/forgot-password", { email });
    const resetToken = await mailedToken(email, "reset-password");
    const [logins, reset] = await Promise.all([
      loginAll(email, PASSWORD, 6),
      api().post("/v1/auth/reset-password", { token: resetToken, password: NEW_PASSWORD }),
    ]);
    expect(reset.status).toBe(200);
    await expectDead(await tokensOf(logins));
  });

  it("never lets a login's rehash of the old password overwrite the new one", async () => {
    const email = uniqueEmail();
    const { user } = await api().register(email);
    await setPasswordHash(user.id, await hashPassword(PASSWORD, { ...DEFAULT_POLICY, algorithm: "scrypt" }));
    await api().post("/v1/auth/forgot-password", { email });
    const resetToken = await mailedToken(email, "reset-password");

    const [logins, reset] = await race(
      user.id,
      PARALLEL,
      () => loginAll(email, PASSWORD),
      () => api().post("/v1/auth/reset-password", { token: resetToken, password: NEW_PASSWORD }),
    );
    expect(reset.status).toBe(200);
    await expectDead(await tokensOf(logins));
    expect((await api().post("/v1/auth/login", { email, password: PASSWORD })).status).toBe(401);
    expect((await api().post("/v1/auth/login", { email, password: NEW_PASSWORD })).status).toBe(200);
  });
});

describe("a password change racing logins with the old password", () => {
  it("ends the sessions of those logins; the changing session stays", async () => {
    const email = uniqueEmail();
    const own = await api().register(email);
    const [logins, change] = await race(
      own.user.id,
      PARALLEL,
      () => loginAll(email, PASSWORD),
      () =>
        api().post(
          "/v1/auth/change-password",
          { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
          own.accessToken,
        ),
    );
    expect(change.status).toBe(200);
    await expectDead(await tokensOf(logins));
    expect((await api().get("/v1/auth/me", own.accessToken)).status).toBe(200);
  });
});

describe("ending sessions racing refreshes", () => {
  it("logout-all ends the successors of refreshes that were in flight", async () => {
    const email = uniqueEmail();
    const own = await api().register(email);
    const sessions = await tokensOf(await loginAll(email, PASSWORD));
    const [refreshes, logoutAll] = await race(
      own.user.id,
      sessions.length,
      () =>
        Promise.all(
          sessions.map((tokens) => api().post("/v1/auth/refresh", { refreshToken: tokens.refreshToken })),
        ),
      () => api().post("/v1/auth/logout-all", {}, own.accessToken),
    );
    expect(logoutAll.status).toBe(204);
    const successors = await tokensOf(refreshes);
    expect(successors.length).toBeGreaterThan(0);
    await expectDead([own, ...sessions, ...successors]);
  });

  it("revoking one session ends the successor of its refresh in flight", async () => {
    const email = uniqueEmail();
    const own = await api().register(email);
    const [other] = await tokensOf(await loginAll(email, PASSWORD, 1));
    if (!other) throw new Error("login failed");
    const [refresh, revoke] = await race(
      own.user.id,
      1,
      () => api().post("/v1/auth/refresh", { refreshToken: other.refreshToken }),
      () => api().del(`/v1/auth/sessions/${decodeJwt(other.accessToken).sid}`, own.accessToken),
    );
    expect(revoke.status).toBe(204);
    await expectDead([other, ...(await tokensOf([refresh]))]);
    expect((await api().get("/v1/auth/me", own.accessToken)).status).toBe(200);
  });
});

describe("reuse detection racing the legitimate refresh", () => {
  it("ends the successor that refresh was about to hand out", async () => {
    const clock = manualClock(new Date());
    const timed = client(createApp({ clock: clock.now }), appId);
    const first = await timed.register();
    const [second] = await tokensOf([
      await timed.post("/v1/auth/refresh", { refreshToken: first.refreshToken }),
    ]);
    if (!second) throw new Error("refresh failed");
    clock.advance(11); // past the grace window: presenting `first` again is reuse
    const [refresh, reuse] = await race(
      first.user.id,
      1,
      () => timed.post("/v1/auth/refresh", { refreshToken: second.refreshToken }),
      () => timed.post("/v1/auth/refresh", { refreshToken: first.refreshToken }),
    );
    expect(await errorCode(reuse)).toBe("refresh_token_reused");
    await expectDead([first, second, ...(await tokensOf([refresh]))]);
  });
});

async function setPasswordHash(userId: string, hash: string): Promise<void> {
  const handle = openTestDatabase();
  try {
    await handle.db.execute(`update users set password_hash = '${hash}' where id = '${userId}'`);
  } finally {
    await handle.close();
  }
}
