/** Arranging data for tests: apps, users and a controllable clock. */
import type { createApp } from "../../src/app";
import { forgetApps } from "../../src/apps/registry";
import { apps } from "../../src/db/schema";
import { openTestDatabase, postJson, send } from "./worker";

/** Registers a fresh app and returns its id. */
export async function createTestApp(prefix = "app"): Promise<string> {
  const id = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const handle = openTestDatabase();
  try {
    await handle.db.insert(apps).values({ id, name: `Test ${id}`, url: `https://${id}.example.com` });
  } finally {
    await handle.close();
  }
  forgetApps();
  return id;
}

/** A clock the test moves by hand; it starts at the real time, so rows it stamps are not stale. */
export function manualClock(start = new Date()) {
  let nowMs = start.getTime();
  return {
    now: () => new Date(nowMs),
    advance: (seconds: number) => {
      nowMs += seconds * 1000;
    },
  };
}

export const uniqueEmail = () => `user-${crypto.randomUUID().slice(0, 8)}@example.com`;
export const PASSWORD = "correct horse battery staple";

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  user: { id: string; email: string; appId: string };
}

export type TestApp = ReturnType<typeof createApp>;

/** Helpers bound to one app instance and one calling app id. */
export function client(app: TestApp, appId: string) {
  const headers = (token?: string) => ({
    "x-app-id": appId,
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  });
  return {
    post: (path: string, body: unknown, token?: string) => send(app, path, postJson(body, headers(token))),
    get: (path: string, token?: string) => send(app, path, { headers: headers(token) }),
    del: (path: string, token?: string) => send(app, path, { method: "DELETE", headers: headers(token) }),
    async register(email = uniqueEmail(), password = PASSWORD): Promise<Tokens> {
      const response = await send(app, "/v1/auth/register", postJson({ email, password }, headers()));
      if (response.status !== 201) throw new Error(`register failed: ${await response.text()}`);
      return (await response.json()) as Tokens;
    },
    async login(email: string, password = PASSWORD): Promise<Tokens> {
      const response = await send(app, "/v1/auth/login", postJson({ email, password }, headers()));
      if (response.status !== 200) throw new Error(`login failed: ${await response.text()}`);
      return (await response.json()) as Tokens;
    },
  };
}

export async function errorCode(response: Response): Promise<string> {
  const body = (await response.json()) as { error?: { code?: string } };
  return body.error?.code ?? `no error body (status ${response.status})`;
}
