/** App keys: who may call /v1/admin and RFC 7662 introspection, and how fast a revocation holds. */
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { APP_KEY_CACHE_MS, forgetAppKeys, readAppKeyCredential } from "../src/admin/app-keys";
import { createApp } from "../src/app";
import { appKeys } from "../src/db/schema";
import { admin, basic, createAppKey } from "./support/app-keys";
import { client, createTestApp, errorCode, manualClock } from "./support/fixtures";
import { openTestDatabase, send } from "./support/worker";

const clock = manualClock();
const app = createApp({ clock: clock.now });
let appId: string;
let otherAppId: string;

beforeAll(async () => {
  appId = await createTestApp("keys");
  otherAppId = await createTestApp("keys-other");
});
afterEach(() => forgetAppKeys());

async function keyRow(id: string) {
  const handle = openTestDatabase();
  try {
    const [row] = await handle.db.select().from(appKeys).where(eq(appKeys.id, id));
    return row;
  } finally {
    await handle.close();
  }
}

async function revoke(id: string) {
  const handle = openTestDatabase();
  try {
    await handle.db.update(appKeys).set({ revokedAt: new Date() }).where(eq(appKeys.id, id));
  } finally {
    await handle.close();
  }
}

const listUsers = (headers: Record<string, string>) => send(app, "/v1/admin/users", { headers });

describe("app keys", () => {
  it("have the documented shape: tk_<appId>_<43 base64url characters> (256 bits)", async () => {
    const { key } = await createAppKey(appId);
    expect(key).toMatch(new RegExp(`^tk_${appId}_[A-Za-z0-9_-]{43}$`));
    expect(readAppKeyCredential(`Bearer ${key}`)).toEqual({ appId, key });
  });

  it("authenticate as Bearer or as HTTP Basic (app id : key), with or without X-App-Id", async () => {
    const { key } = await createAppKey(appId);
    expect((await listUsers({ authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await listUsers({ authorization: basic(appId, key) })).status).toBe(200);
    expect((await listUsers({ authorization: `Bearer ${key}`, "x-app-id": appId })).status).toBe(200);
  });

  it("are required, and anything else is refused", async () => {
    const { key } = await createAppKey(appId);
    const { accessToken } = await client(app, appId).register();
    const missing = await listUsers({ "x-app-id": appId });
    expect([missing.status, await errorCode(missing)]).toEqual([401, "app_key_required"]);
    const refusals = [
      `Bearer ${accessToken}`,
      `Bearer ${key.slice(0, -1)}x`,
      `Bearer tk_${appId}_${"A".repeat(43)}`,
      basic(appId, "wrong"),
      "Basic !!!",
    ];
    for (const authorization of refusals) {
      const response = await listUsers({ authorization, "x-app-id": appId });
      expect(await errorCode(response)).toBe("invalid_app_key");
    }
  });

  it("are valid only for their own app", async () => {
    const { key: otherKey } = await createAppKey(otherAppId);
    // Named app A, key of app B: refused however it is presented.
    const attempts: Record<string, string>[] = [
      { authorization: `Bearer ${otherKey}`, "x-app-id": appId },
      { authorization: basic(appId, otherKey) },
      { authorization: basic(otherAppId, otherKey), "x-app-id": appId },
    ];
    for (const headers of attempts) {
      expect(await errorCode(await listUsers(headers))).toBe("invalid_app_key");
    }
    // …and with no app named at all, a key that names an app nobody registered.
    const forged = otherKey.replace(otherAppId, "no-such-app");
    expect(await errorCode(await listUsers({ authorization: `Bearer ${forged}` }))).toBe("unknown_app");
  });

  it("are refused within the cache time once revoked", async () => {
    const { id, key } = await createAppKey(appId);
    expect((await admin(app, key).get("/users")).status).toBe(200);
    await revoke(id);
    clock.advance(APP_KEY_CACHE_MS / 1000);
    const refused = await admin(app, key).get("/users");
    expect([refused.status, await errorCode(refused)]).toEqual([401, "invalid_app_key"]);
    expect(APP_KEY_CACHE_MS).toBeLessThanOrEqual(5_000);
  });

  it("record their last use at most once a minute, not on every call", async () => {
    const { id, key } = await createAppKey(appId);
    expect((await keyRow(id))?.lastUsedAt).toBeNull();
    await admin(app, key).get("/users");
    const first = (await keyRow(id))?.lastUsedAt;
    expect(first).toBeInstanceOf(Date);
    clock.advance(10);
    forgetAppKeys(); // another isolate: reads the row again, and sees a recent use
    await admin(app, key).get("/users");
    expect((await keyRow(id))?.lastUsedAt).toEqual(first);
    clock.advance(60);
    await admin(app, key).get("/users");
    expect((await keyRow(id))?.lastUsedAt?.getTime()).toBeGreaterThan(first?.getTime() ?? 0);
  });
});
