/**
 * Disabling a user is final, even against logins and refreshes already in flight. Requests are
 * held at a barrier inside Postgres (test/support/gate.ts) where they would create a session;
 * the disabling runs (and must wait for them), the barrier opens, and then every token any
 * request returned is checked: refresh → 401, bearer → 401, introspection → inactive.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { forgetAppKeys } from "../src/admin/app-keys";
import { createApp } from "../src/app";
import { forgetRevocations } from "../src/revocation";
import { admin, createAppKey } from "./support/app-keys";
import { client, createTestApp, errorCode, PASSWORD, type Tokens, uniqueEmail } from "./support/fixtures";
import { race } from "./support/gate";

const app = createApp();
const PARALLEL = 4;
let appId: string;
let key: string;

beforeAll(async () => {
  appId = await createTestApp("disable-races");
  key = (await createAppKey(appId)).key;
});
afterEach(() => {
  forgetRevocations();
  forgetAppKeys();
});

const api = () => client(app, appId);
const disable = (userId: string) => admin(app, key).post(`/users/${userId}/disable`);

/** The tokens the successful requests issued; every other request must have failed as disabled. */
async function issuedBy(responses: Response[]): Promise<Tokens[]> {
  const issued: Tokens[] = [];
  for (const response of responses) {
    if (response.status === 200) issued.push((await response.json()) as Tokens);
    else expect(await errorCode(response)).toBe("account_disabled");
  }
  return issued;
}

/** Nothing of these token pairs works anywhere any more. */
async function expectDead(all: Tokens[]): Promise<void> {
  for (const tokens of all) {
    forgetRevocations(); // as another isolate would see it: KV and Postgres only
    const introspection = await api().post("/v1/auth/introspect", { token: tokens.accessToken });
    expect(await introspection.json()).toEqual({ active: false });
    expect((await api().get("/v1/auth/me", tokens.accessToken)).status).toBe(401);
    const refresh = await api().post("/v1/auth/refresh", { refreshToken: tokens.refreshToken });
    expect(await errorCode(refresh)).toBe("account_disabled");
  }
}

function loginAll(email: string, count = PARALLEL): Promise<Response[]> {
  return Promise.all(
    Array.from({ length: count }, () => api().post("/v1/auth/login", { email, password: PASSWORD })),
  );
}

function refreshAll(sessions: Tokens[]): Promise<Response[]> {
  return Promise.all(
    sessions.map((tokens) => api().post("/v1/auth/refresh", { refreshToken: tokens.refreshToken })),
  );
}

describe("disabling a user racing its logins and refreshes", () => {
  it("ends the sessions of logins held where they create them", async () => {
    const email = uniqueEmail();
    const { user } = await api().register(email);
    const [logins, disabled] = await race(
      user.id,
      PARALLEL,
      () => loginAll(email),
      () => disable(user.id),
    );
    expect(disabled.status).toBe(200);
    const issued = await issuedBy(logins);
    expect(issued.length).toBeGreaterThan(0);
    await expectDead(issued);
    expect(await errorCode(await api().post("/v1/auth/login", { email, password: PASSWORD }))).toBe(
      "account_disabled",
    );
  });

  it("ends the sessions of refreshes held where they rotate", async () => {
    const email = uniqueEmail();
    const { user } = await api().register(email);
    const sessions = await Promise.all(Array.from({ length: PARALLEL }, () => api().login(email)));
    const [refreshes, disabled] = await race(
      user.id,
      PARALLEL,
      () => refreshAll(sessions),
      () => disable(user.id),
    );
    expect(disabled.status).toBe(200);
    const issued = await issuedBy(refreshes);
    expect(issued.length).toBeGreaterThan(0);
    await expectDead([...issued, ...sessions]);
  });

  it("holds for logins, refreshes and the disabling let loose together", async () => {
    const email = uniqueEmail();
    const { user } = await api().register(email);
    const sessions = await Promise.all(Array.from({ length: 3 }, () => api().login(email)));
    const [logins, refreshes, disabled] = await Promise.all([
      loginAll(email, 4),
      refreshAll(sessions),
      disable(user.id),
    ]);
    expect(disabled.status).toBe(200);
    await expectDead([...sessions, ...(await issuedBy([...logins, ...refreshes]))]);
  });
});
