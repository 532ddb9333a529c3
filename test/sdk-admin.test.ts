/** The SDK's TurKeyAdmin against the Worker: every admin call, typed, and its errors as codes. */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FetchLike, TurKeyAdmin } from "../packages/sdk/src/index";
import { forgetAppKeys } from "../src/admin/app-keys";
import { createApp } from "../src/app";
import { forgetRevocations } from "../src/revocation";
import { createAppKey } from "./support/app-keys";
import { client, createTestApp, uniqueEmail } from "./support/fixtures";
import { BASE_URL, caught, routedFetch } from "./support/sdk";
import { sendStreamed } from "./support/worker";

const app = createApp();
let appId: string;
let admin: TurKeyAdmin;

beforeAll(async () => {
  appId = await createTestApp("sdk-admin");
  const { key } = await createAppKey(appId, "sdk");
  admin = new TurKeyAdmin({ baseUrl: BASE_URL, appKey: key, fetch: routedFetch(app).fetch });
});
afterEach(() => {
  forgetRevocations();
  forgetAppKeys();
});

describe("TurKeyAdmin", () => {
  it("takes its app from the key and refuses anything else as a key", () => {
    expect(admin.appId).toBe(appId);
    expect(() => new TurKeyAdmin({ baseUrl: BASE_URL, appKey: "secret" })).toThrow(TypeError);
  });

  it("finds, shows, disables, enables, verifies and logs out users", async () => {
    const email = uniqueEmail();
    const registered = await client(app, appId).register(email);
    const page = await admin.listUsers({ query: email });
    expect(page.users.map((user) => user.id)).toEqual([registered.user.id]);
    expect(page.nextCursor).toBeNull();
    const detail = await admin.getUser(registered.user.id);
    expect(detail.sessions).toHaveLength(1);
    expect((await admin.disableUser(registered.user.id)).disabledAt).not.toBeNull();
    expect((await admin.enableUser(registered.user.id)).disabledAt).toBeNull();
    expect((await admin.verifyEmail(registered.user.id)).emailVerified).toBe(true);
    await client(app, appId).login(email);
    expect(await admin.logoutUser(registered.user.id)).toBe(1);
    const error = await caught(admin.getUser(crypto.randomUUID()));
    expect([error.code, error.status]).toEqual(["not_found", 404]);
  });

  it("reads and exports the audit", async () => {
    const { user } = await client(app, appId).register();
    await admin.disableUser(user.id);
    const page = await admin.listAudit({ userId: user.id, event: "admin_user_disabled" });
    expect(page.events.map((entry) => entry.details?.appKey)).toEqual(["sdk"]);

    const streaming: FetchLike = (input, init) => sendStreamed(app, input, init);
    const exporter = new TurKeyAdmin({
      baseUrl: BASE_URL,
      appKey: (await createAppKey(appId)).key,
      fetch: streaming,
    });
    const exported = [];
    for await (const entry of exporter.exportAudit({ userId: user.id })) exported.push(entry.event);
    expect(exported).toContain("register");
    expect(exported).toContain("admin_user_disabled");
  });

  it("introspects tokens the RFC 7662 way", async () => {
    const { accessToken, user } = await client(app, appId).register();
    expect(await admin.introspect(accessToken)).toMatchObject({
      active: true,
      sub: user.id,
      client_id: appId,
    });
    expect(await admin.introspect("nope")).toEqual({ active: false });
  });

  it("reports a revoked or wrong key as invalid_app_key", async () => {
    const forged = new TurKeyAdmin({
      baseUrl: BASE_URL,
      appKey: `tk_${appId}_${"A".repeat(43)}`,
      fetch: routedFetch(app).fetch,
    });
    const error = await caught(forged.listUsers());
    expect([error.code, error.status]).toEqual(["invalid_app_key", 401]);
  });
});
