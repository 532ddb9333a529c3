import { decodeJwt } from "jose";
import { beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import sdkManifest from "../packages/sdk/package.json";
import {
  type AccessTokenClaims,
  type AuthChangeEvent,
  localStorageAdapter,
  memoryStorage,
  type Passkey,
  SDK_VERSION,
  type TokenResponse,
  TurKeyClient,
  type TurKeyClientOptions,
  TurKeyServer,
  type User,
} from "../packages/sdk/src/index";
import { createApp } from "../src/app";
import type { AccessClaims } from "../src/auth/access-tokens";
import type { UserView } from "../src/auth/users";
import type { PasskeyView } from "../src/passkeys/credentials";
import { client, createTestApp, manualClock, PASSWORD, uniqueEmail } from "./support/fixtures";
import {
  BASE_URL,
  cannedFetch,
  caught,
  MapStorage,
  type RoutedFetch,
  routedFetch,
  signedIn,
} from "./support/sdk";

const clock = manualClock();
const app = createApp({ clock: clock.now });
let appId: string;
let routed: RoutedFetch;

beforeEach(async () => {
  // A fresh app per test keeps per-app rate limits and users apart.
  appId = await createTestApp("sdk");
  routed = routedFetch(app);
});

function sdk(options: Partial<TurKeyClientOptions> = {}): TurKeyClient {
  return new TurKeyClient({
    baseUrl: BASE_URL,
    appId,
    fetch: routed.fetch,
    now: () => clock.now().getTime(),
    ...options,
  });
}

/** Records every auth event of a client. */
function recordEvents(turkey: TurKeyClient): AuthChangeEvent[] {
  const events: AuthChangeEvent[] = [];
  turkey.onAuthStateChange((event) => events.push(event));
  return events;
}

describe("TurKeyClient against the worker", () => {
  it("is version 0.8.0, as its package says, and its types match the server's", () => {
    expect(SDK_VERSION).toBe("0.8.0");
    expect(sdkManifest.version).toBe(SDK_VERSION);
    expectTypeOf<User>().toEqualTypeOf<UserView>();
    expectTypeOf<AccessTokenClaims>().toEqualTypeOf<AccessClaims>();
    expectTypeOf<Passkey>().toEqualTypeOf<PasskeyView>();
  });

  it("registers, stores the session and sends X-App-Id on every call", async () => {
    const turkey = sdk();
    const events = recordEvents(turkey);
    const email = uniqueEmail();
    const result = await turkey.register({ email, password: PASSWORD, name: "Ada" });
    expect(result).toMatchObject({ tokenType: "Bearer", expiresIn: 900, user: { email, name: "Ada" } });
    expect(events).toEqual(["signed_in"]);
    const token = await turkey.getAccessToken();
    expect(token).toBe((result as TokenResponse).accessToken);
    expect(decodeJwt(token ?? "").aud).toBe(appId);
    const user = await turkey.getUser();
    expect(user).toEqual((result as TokenResponse).user);
    expect(routed.calls.map((call) => `${call.method} ${call.path}`)).toEqual([
      "POST /v1/auth/register",
      "GET /v1/auth/me",
    ]);
    expect(routed.calls.every((call) => call.appId === appId)).toBe(true);
  });

  it("stores nothing when registration needs email verification first", async () => {
    const user = { id: "u1", appId, email: "a@example.com", emailVerified: false, name: null, createdAt: "" };
    const turkey = sdk({ fetch: cannedFetch(201, { user, verificationRequired: true }) });
    const events = recordEvents(turkey);
    expect(await turkey.register({ email: user.email, password: PASSWORD })).toEqual({
      user,
      verificationRequired: true,
    });
    expect(await turkey.getAccessToken()).toBeNull();
    expect(events).toEqual([]);
  });

  it("logs in, lists sessions and revokes another one", async () => {
    const email = uniqueEmail();
    const other = sdk();
    await signedIn(other, email);
    const turkey = sdk();
    const tokens = (await turkey.login({ email, password: PASSWORD })) as TokenResponse;
    expect(tokens.user.email).toBe(email);

    const { sessions } = await turkey.listSessions();
    expect(sessions).toHaveLength(2);
    const current = sessions.find((session) => session.current);
    expect(current?.id).toBe(decodeJwt(tokens.accessToken).sid);
    const foreign = sessions.find((session) => !session.current);
    await turkey.revokeSession({ id: foreign?.id ?? "" });
    expect((await turkey.listSessions()).sessions).toHaveLength(1);

    // The revoked device learns it on its next call: refused, refresh refused, signed out.
    const events = recordEvents(other);
    expect((await caught(other.getUser())).code).toBe("invalid_refresh_token");
    expect(events).toEqual(["signed_out"]);
    expect(await other.getAccessToken()).toBeNull();
  });

  it("logout ends the session on the server and locally", async () => {
    const turkey = sdk();
    const tokens = await signedIn(turkey);
    const events = recordEvents(turkey);
    await turkey.logout();
    expect(events).toEqual(["signed_out"]);
    expect(await turkey.getAccessToken()).toBeNull();
    const api = client(app, appId);
    expect((await api.get("/v1/auth/me", tokens.accessToken)).status).toBe(401);
    expect((await api.post("/v1/auth/refresh", { refreshToken: tokens.refreshToken })).status).toBe(401);
    await turkey.logout(); // signed out already: a no-op
    expect(routed.count("/v1/auth/logout")).toBe(1);
  });

  it("logoutAll ends every session of the user", async () => {
    const email = uniqueEmail();
    const laptop = sdk();
    const phone = sdk();
    await signedIn(laptop, email);
    await phone.login({ email, password: PASSWORD });
    await laptop.logoutAll();
    expect(await laptop.getAccessToken()).toBeNull();
    expect((await caught(phone.listSessions())).code).toBe("invalid_refresh_token");
    expect(await phone.getAccessToken()).toBeNull();
  });

  it("refreshes the access token 30 s before it expires, not earlier", async () => {
    const turkey = sdk();
    const events = recordEvents(turkey);
    const tokens = await signedIn(turkey);
    clock.advance(900 - 31);
    expect(await turkey.getAccessToken()).toBe(tokens.accessToken);
    expect(routed.count("/v1/auth/refresh")).toBe(0);
    clock.advance(2);
    const fresh = await turkey.getAccessToken();
    expect(fresh).not.toBe(tokens.accessToken);
    expect(routed.count("/v1/auth/refresh")).toBe(1);
    expect(events).toEqual(["signed_in", "token_refreshed"]);
    expect((await turkey.getUser()).id).toBe(tokens.user.id);
  });

  it("refresh() rotates on demand", async () => {
    const turkey = sdk();
    const tokens = await signedIn(turkey);
    const next = await turkey.refresh();
    expect(next.refreshToken).not.toBe(tokens.refreshToken);
    expect(await turkey.getAccessToken()).toBe(next.accessToken);
  });

  it("shares one refresh among 10 concurrent getAccessToken calls", async () => {
    const turkey = sdk();
    const tokens = await signedIn(turkey);
    clock.advance(900);
    const results = await Promise.all(Array.from({ length: 10 }, () => turkey.getAccessToken()));
    expect(routed.count("/v1/auth/refresh")).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).not.toBe(tokens.accessToken);
    expect(results[0]).toEqual(expect.any(String));
  });

  it("signs out when the server reports refresh-token reuse", async () => {
    const turkey = sdk();
    const tokens = await signedIn(turkey);
    // Someone else spends the same refresh token first; ours is now a replay.
    const thief = client(app, appId);
    expect((await thief.post("/v1/auth/refresh", { refreshToken: tokens.refreshToken })).status).toBe(200);
    clock.advance(11);
    const seen: [AuthChangeEvent, User | null][] = [];
    turkey.onAuthStateChange((event, user) => seen.push([event, user]));
    const error = await caught(turkey.refresh());
    expect(error).toMatchObject({ code: "refresh_token_reused", status: 401 });
    expect(seen).toEqual([["signed_out", null]]);
    expect(await turkey.getAccessToken()).toBeNull();
  });

  it("retries a bearer call once after a refresh when its clock was behind", async () => {
    const start = new Date();
    const serverClock = manualClock(start);
    const skewed = routedFetch(createApp({ clock: serverClock.now }));
    const turkey = sdk({ fetch: skewed.fetch, now: () => start.getTime() });
    await signedIn(turkey);
    serverClock.advance(900 + 60);
    expect((await turkey.getUser()).appId).toBe(appId);
    expect(skewed.calls.map((call) => call.path)).toEqual([
      "/v1/auth/register",
      "/v1/auth/me",
      "/v1/auth/refresh",
      "/v1/auth/me",
    ]);
  });
});

describe("errors", () => {
  it("are TurKeyErrors carrying the server's code, status and message", async () => {
    const turkey = sdk();
    const email = uniqueEmail();
    await signedIn(turkey, email);
    const wrong = await caught(sdk().login({ email, password: "not the password" }));
    expect(wrong).toMatchObject({ code: "invalid_credentials", status: 401, name: "TurKeyError" });
    expect(wrong.message).toBe("Email or password is wrong");
    expect(await caught(sdk().register({ email, password: PASSWORD }))).toMatchObject({
      code: "email_taken",
      status: 409,
    });
    expect(await caught(sdk().login({ email: "not-an-email", password: PASSWORD }))).toMatchObject({
      code: "validation_failed",
      status: 400,
      field: "email",
    });
    const stranger = sdk({ appId: "no-such-app" });
    expect((await caught(stranger.login({ email, password: PASSWORD }))).code).toBe("unknown_app");
  });

  it("need a signed-in user for bearer calls", async () => {
    expect(await caught(sdk().getUser())).toMatchObject({ code: "not_signed_in", status: 0 });
    expect((await caught(sdk().refresh())).code).toBe("not_signed_in");
  });

  it("report network failures as network_error", async () => {
    const offline = sdk({
      fetch: async () => {
        throw new TypeError("Failed to fetch");
      },
    });
    const error = await caught(offline.login({ email: uniqueEmail(), password: PASSWORD }));
    expect(error).toMatchObject({ code: "network_error", status: 0 });
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it("keep the session when a refresh fails on the network", async () => {
    const storage = memoryStorage();
    await signedIn(sdk({ storage }));
    clock.advance(900);
    const offline = sdk({
      storage,
      fetch: async () => {
        throw new TypeError("Failed to fetch");
      },
    });
    expect((await caught(offline.getAccessToken())).code).toBe("network_error");
    expect(await sdk({ storage }).getAccessToken()).toEqual(expect.any(String));
  });

  it("expose Retry-After of rate-limited answers", async () => {
    const limited = sdk({
      fetch: cannedFetch(
        429,
        { error: { code: "rate_limited", message: "Slow down" } },
        { "Retry-After": "42" },
      ),
    });
    expect(await caught(limited.login({ email: uniqueEmail(), password: PASSWORD }))).toMatchObject({
      code: "rate_limited",
      status: 429,
      retryAfter: 42,
    });
  });

  it("call an answer that is not Turkey's JSON invalid_response", async () => {
    const proxy = sdk({ fetch: async () => new Response("<h1>Bad gateway</h1>", { status: 502 }) });
    expect(await caught(proxy.login({ email: uniqueEmail(), password: PASSWORD }))).toMatchObject({
      code: "invalid_response",
      status: 502,
    });
  });
});

describe("storage and listeners", () => {
  it("localStorageAdapter keeps the session across client instances (page reloads)", async () => {
    const web = new MapStorage();
    const first = sdk({ storage: localStorageAdapter(web) });
    const tokens = await signedIn(first);
    expect([...web.items.keys()]).toEqual([`turkey.${appId}.session`]);
    const reloaded = sdk({ storage: localStorageAdapter(web) });
    expect(await reloaded.getAccessToken()).toBe(tokens.accessToken);
    // Another tab refreshing is seen at once: storage is read on every use.
    const next = await reloaded.refresh();
    expect(await first.getAccessToken()).toBe(next.accessToken);
    await first.logout();
    expect(web.items.size).toBe(0);
    expect(await reloaded.getAccessToken()).toBeNull();
  });

  it("localStorageAdapter falls back to memory when storage throws", async () => {
    const broken = {
      getItem: (): string | null => {
        throw new Error("SecurityError");
      },
      setItem: () => {
        throw new Error("QuotaExceededError");
      },
      removeItem: () => {
        throw new Error("SecurityError");
      },
    };
    const turkey = sdk({ storage: localStorageAdapter(broken) });
    const tokens = await signedIn(turkey);
    expect(await turkey.getAccessToken()).toBe(tokens.accessToken);
    await turkey.logout();
    expect(await turkey.getAccessToken()).toBeNull();
  });

  it("ignores a corrupt stored session", async () => {
    const web = new MapStorage();
    web.setItem(`turkey.${appId}.session`, "{not json");
    expect(await sdk({ storage: localStorageAdapter(web) }).getAccessToken()).toBeNull();
    web.setItem(`turkey.${appId}.session`, JSON.stringify({ accessToken: 1 }));
    expect(await sdk({ storage: localStorageAdapter(web) }).getAccessToken()).toBeNull();
  });

  it("onAuthStateChange returns a working unsubscribe", async () => {
    const turkey = sdk();
    const events: AuthChangeEvent[] = [];
    const unsubscribe = turkey.onAuthStateChange((event) => events.push(event));
    await signedIn(turkey);
    await turkey.refresh();
    unsubscribe();
    await turkey.logout();
    expect(events).toEqual(["signed_in", "token_refreshed"]);
  });
});

describe("TurKeyServer.verifyAccessToken", () => {
  it("returns the claims of a live token and null once it is revoked", async () => {
    const turkey = sdk();
    const tokens = await signedIn(turkey);
    const server = new TurKeyServer({ baseUrl: BASE_URL, appId, fetch: routed.fetch });
    const claims = await server.verifyAccessToken(tokens.accessToken);
    expect(claims).toMatchObject({ sub: tokens.user.id, aud: appId, email: tokens.user.email });
    expect(claims).not.toHaveProperty("active");
    expect(routed.calls.at(-1)).toMatchObject({ path: "/v1/auth/introspect", appId });
    await turkey.logout();
    expect(await server.verifyAccessToken(tokens.accessToken)).toBeNull();
  });

  it("refuses other apps' tokens, garbage and empty input", async () => {
    const tokens = await signedIn(sdk());
    const otherApp = await createTestApp("sdk-other");
    const other = new TurKeyServer({ baseUrl: BASE_URL, appId: otherApp, fetch: routed.fetch });
    expect(await other.verifyAccessToken(tokens.accessToken)).toBeNull();
    expect(await other.verifyAccessToken("garbage")).toBeNull();
    expect(await other.verifyAccessToken("")).toBeNull();
    expect(await other.verifyAccessToken(undefined)).toBeNull();
  });

  it("checks the audience of the answer itself", async () => {
    const answer = { active: true, sub: "u1", aud: "someone-else", exp: 1, iat: 1, jti: "j", sid: "s" };
    const server = new TurKeyServer({ baseUrl: BASE_URL, appId, fetch: cannedFetch(200, answer) });
    expect(await server.verifyAccessToken("token")).toBeNull();
  });

  it("throws rather than answering null when Turkey cannot answer", async () => {
    const unknown = new TurKeyServer({ baseUrl: BASE_URL, appId: "no-such-app", fetch: routed.fetch });
    expect((await caught(unknown.verifyAccessToken("token"))).code).toBe("unknown_app");
  });
});
