/**
 * Rotating signing keys while tokens of every generation are in use. An app backend verifies
 * through jose's createRemoteJWKSet against the worker's /.well-known/jwks.json, refetching it
 * only when its copy is one max-age old (never on an unknown kid): it accepts every token only
 * if each key was published a max-age before it signed. Time is the worker's injected clock;
 * the cron runs through the worker's own scheduled handler. Stored keys are global, so this
 * suite has a database of its own.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import {
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { createNextKey, loadStoredKeys } from "../src/auth/key-store";
import {
  JWKS_MAX_AGE_SECONDS,
  KEY_CACHE_SECONDS,
  PUBLISH_BEFORE_SIGNING_SECONDS,
  type SigningKey,
  type StoredKey,
  verifierFor,
} from "../src/auth/signing-keys";
import type { Bindings } from "../src/context";
import { openWorkerDatabase } from "../src/db";
import { apps } from "../src/db/schema";
import worker from "../src/index";
import { errorCode, manualClock, PASSWORD, uniqueEmail } from "./support/fixtures";
import { bindings, postJson, send } from "./support/worker";

const ISSUER = "turkey-rotation";
const overrides: Partial<Bindings> = {
  HYPERDRIVE: undefined,
  DATABASE_URL: String(bindings.KEYS_DATABASE_URL),
  JWT_ISSUER: ISSUER,
};
const env = { ...bindings, ...overrides } as Bindings;
// On a whole second: tokens carry whole seconds, and the key cache's age is measured by them.
const start = manualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
const t0 = start.now().getTime();
const app = createApp({ clock: start.now });
const database = openWorkerDatabase(env);
const appId = `rotation-${crypto.randomUUID().slice(0, 8)}`;
afterAll(() => database.close());

/** Seconds since the start of the test, on the worker's clock. */
const elapsed = () => (start.now().getTime() - t0) / 1000;

// The app backend: jose's remote JWKS, refetched only at each max-age (see advanceTo).
const backend = createRemoteJWKSet(new URL("https://turkey.test/.well-known/jwks.json"), {
  cacheMaxAge: Number.POSITIVE_INFINITY,
  cooldownDuration: Number.POSITIVE_INFINITY,
  [customFetch]: () => send(app, "/.well-known/jwks.json", {}, overrides),
});
let nextRefetch = 0;
const tally = { verified: 0, failed: 0 };

/** Moves the clock to `seconds`, refetching the backend's JWKS each time its copy is a max-age old. */
async function advanceTo(seconds: number): Promise<void> {
  while (nextRefetch <= seconds) {
    start.advance(nextRefetch - elapsed());
    await backend.reload();
    nextRefetch += JWKS_MAX_AGE_SECONDS;
  }
  start.advance(seconds - elapsed());
}

async function cronTick(): Promise<void> {
  const ctx = createExecutionContext();
  const controller = createScheduledController({ cron: "* * * * *", scheduledTime: start.now() });
  await worker.scheduled(controller, env, ctx);
  await waitOnExecutionContext(ctx);
}

const rotate = () =>
  createNextKey(database.db, { current: String(bindings.ENCRYPTION_KEY), previous: undefined }, start.now());

async function signIn(email: string, path = "/v1/auth/login"): Promise<string> {
  const response = await send(
    app,
    path,
    postJson({ email, password: PASSWORD }, { "x-app-id": appId }),
    overrides,
  );
  expect(response.status).toBeLessThan(300);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

/** The backend's verdict, counted: every live token must pass. */
async function backendAccepts(token: string): Promise<void> {
  try {
    await jwtVerify(token, backend, { issuer: ISSUER, audience: appId, currentDate: start.now() });
    tally.verified += 1;
  } catch (error) {
    tally.failed += 1;
    throw error;
  }
}

async function turkeyAnswers(token: string): Promise<string> {
  const response = await send(
    app,
    "/v1/auth/me",
    { headers: { "x-app-id": appId, authorization: `Bearer ${token}` } },
    overrides,
  );
  return response.status === 200 ? "ok" : errorCode(response);
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;
async function publishedKids(): Promise<string[]> {
  const response = await send(app, "/.well-known/jwks.json", {}, overrides);
  expect(response.headers.get("cache-control")).toBe(`public, max-age=${JWKS_MAX_AGE_SECONDS}`);
  return ((await response.json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
}

beforeAll(async () => {
  await database.db.insert(apps).values({ id: appId, name: "Rotation", url: "https://rotation.example.com" });
});

describe("rotating signing keys", () => {
  it("rotates twice with tokens of each generation in use, and no verification ever fails", async () => {
    const email = uniqueEmail();
    const P = PUBLISH_BEFORE_SIGNING_SECONDS;
    // Generation 0: HS256 with JWT_SECRET, the zero-configuration default.
    await advanceTo(0);
    const hs256 = await signIn(email, "/v1/auth/register");
    expect(decodeProtectedHeader(hs256).alg).toBe("HS256");
    const k1 = await rotate();
    // Published as soon as the isolate's key cache has expired; signing nothing yet.
    await advanceTo(KEY_CACHE_SECONDS);
    expect(await publishedKids()).toEqual([k1.kid]);
    await cronTick();
    expect(kidOf(await signIn(email))).toBeUndefined();

    // Generation 1.
    await advanceTo(P);
    await cronTick();
    const t1 = await signIn(email);
    expect(kidOf(t1)).toBe(k1.kid);
    await backendAccepts(t1);
    expect(await turkeyAnswers(hs256)).toBe("ok");
    const k2 = await rotate();

    // Generation 2. This isolate read its keys just before the promotion: for its cache's life it
    // still signs with the retired key, and both verify everywhere.
    await advanceTo(2 * P - 1);
    await publishedKids();
    await advanceTo(2 * P);
    await cronTick();
    const t2stale = await signIn(email);
    expect(kidOf(t2stale)).toBe(k1.kid);
    await advanceTo(2 * P + 30);
    const t2 = await signIn(email);
    expect(kidOf(t2)).toBe(k2.kid);
    for (const token of [t1, t2stale, t2]) {
      await backendAccepts(token);
      expect(await turkeyAnswers(token)).toBe("ok");
    }
    expect(await turkeyAnswers(hs256)).toBe("ok");
    const k3 = await rotate();
    expect(await publishedKids()).toEqual(expect.arrayContaining([k1.kid, k2.kid]));

    // Generation 3: tokens of all three keys are live at once.
    await advanceTo(2 * P + 30 + P);
    await cronTick();
    const t3 = await signIn(email);
    expect(kidOf(t3)).toBe(k3.kid);
    for (const token of [t1, t2stale, t2, t3]) {
      await backendAccepts(token);
      expect(await turkeyAnswers(token)).toBe("ok");
    }
    expect(await turkeyAnswers(hs256)).toBe("token_expired");
    expect(new Set(await publishedKids())).toEqual(new Set([k1.kid, k2.kid, k3.kid]));

    // Once every token k1 signed has expired (plus tolerance), k1 leaves the JWKS and its row goes.
    await advanceTo(2 * P + 15 * 60 + 60 + 30 + 1);
    await cronTick();
    const stored = await loadStoredKeys(database.db);
    expect(stored.map((key) => [key.kid, key.state])).toEqual([
      [k3.kid, "current"],
      [k2.kid, "retired"],
    ]);
    await advanceTo(elapsed() + 31);
    expect(new Set(await publishedKids())).toEqual(new Set([k2.kid, k3.kid]));
    await backendAccepts(t3);
    expect(await turkeyAnswers(t3)).toBe("ok");
    expect(tally).toEqual({ verified: 9, failed: 0 });
  });

  it("refuses an unknown kid, a kid of a key that may not sign yet, and HS256 once stored keys took over", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    const claims = { sid: crypto.randomUUID(), email: "a@example.com", email_verified: true };
    const forge = (header: { alg: string; kid?: string }, key: CryptoKey | Uint8Array) =>
      new SignJWT(claims)
        .setProtectedHeader(header)
        .setIssuer(ISSUER)
        .setSubject(crypto.randomUUID())
        .setAudience(appId)
        .setIssuedAt(start.now())
        .setExpirationTime(new Date(start.now().getTime() + 60_000))
        .setJti(crypto.randomUUID())
        .sign(key);
    expect(await turkeyAnswers(await forge({ alg: "ES256", kid: "unknown" }, privateKey))).toBe(
      "token_invalid",
    );
    const next = await rotate();
    // Its kid, but not its key: and a next key does not verify before it could sign anyway.
    expect(await turkeyAnswers(await forge({ alg: "ES256", kid: next.kid }, privateKey))).toBe(
      "token_invalid",
    );
    const secret = new TextEncoder().encode(String(bindings.JWT_SECRET));
    expect(await turkeyAnswers(await forge({ alg: "HS256" }, secret))).toBe("token_invalid");
  });
});

describe("an isolate that has not seen a promotion yet", () => {
  it("accepts tokens of its next key once that key may sign, and not before", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const usableFrom = new Date(start.now().getTime() + 60_000);
    const row: StoredKey = {
      kid: "next-key",
      alg: "ES256",
      state: "next",
      publicJwk,
      privateSealed: "unused",
      usableFrom,
      activatedAt: null,
      retiredAt: null,
    };
    const key: SigningKey = { secret: "s", issuer: `stale-${crypto.randomUUID()}`, load: async () => [row] };
    const before = new Date(usableFrom.getTime() - 1000);
    expect(await verifierFor(key, { kid: "next-key" }, before)).toBeUndefined();
    const verifier = await verifierFor(key, { kid: "next-key" }, usableFrom);
    expect(verifier?.alg).toBe("ES256");
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "next-key" })
      .sign(privateKey);
    await expect(jwtVerify(token, verifier?.key as CryptoKey)).resolves.toBeDefined();
  });
});

describe("SIGNING_KEY_ROTATION_DAYS", () => {
  it("makes the cron create the next key once the current one has signed that long", async () => {
    const rotating = { ...env, SIGNING_KEY_ROTATION_DAYS: "2" } as Bindings;
    const tick = async () => {
      const ctx = createExecutionContext();
      const controller = createScheduledController({ cron: "* * * * *", scheduledTime: start.now() });
      await worker.scheduled(controller, rotating, ctx);
      await waitOnExecutionContext(ctx);
    };
    // Whatever the suites above left waiting becomes current first.
    start.advance(PUBLISH_BEFORE_SIGNING_SECONDS);
    await tick();
    const [current] = (await loadStoredKeys(database.db)).filter((key) => key.state === "current");
    start.advance(86_400);
    await tick();
    expect((await loadStoredKeys(database.db)).some((key) => key.state === "next")).toBe(false);
    start.advance(86_400);
    await tick();
    const keys = await loadStoredKeys(database.db);
    expect(keys.filter((key) => key.state === "next")).toHaveLength(1);
    expect(keys.find((key) => key.state === "current")?.kid).toBe(current?.kid);
  });
});
