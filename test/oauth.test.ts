/**
 * Social sign-in against fake providers (test/support/fake-providers.ts): the OIDC flow end to
 * end, and the attacks it must refuse — replayed or foreign state, PKCE verifiers wrong on
 * either side, spoiled ID tokens, return URLs not on the list, replayed codes.
 */
import { sql } from "drizzle-orm";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { forgetServers } from "../src/federation/servers";
import { createTestApp, errorCode } from "./support/fixtures";
import {
  authorizePath,
  callback,
  enableProvider,
  exchange,
  type ProviderSetup,
  pkce,
  providersUrl,
  redeem,
  returned,
  script,
  visitProvider,
  walkSignIn,
} from "./support/oauth";
import { openTestDatabase, postJson, send } from "./support/worker";

const app = createApp();
let appA: string;
let appB: string;
let oidcA: ProviderSetup;
let oidcB: ProviderSetup;
const RETURN_A = "https://a.example.com/auth/return";
const RETURN_B = "https://b.example.com/auth/return";

beforeAll(async () => {
  forgetServers();
  appA = await createTestApp("oauth-a");
  appB = await createTestApp("oauth-b");
  oidcA = await enableProvider(appA, "oidc", [RETURN_A]);
  oidcB = await enableProvider(appB, "oidc", [RETURN_B]);
});

const subject = () => `sub-${crypto.randomUUID()}`;
const email = () => `fed-${crypto.randomUUID().slice(0, 8)}@example.com`;

async function query<T = Record<string, unknown>>(text: ReturnType<typeof sql>): Promise<T[]> {
  const handle = openTestDatabase();
  try {
    return (await handle.db.execute(text)).rows as T[];
  } finally {
    await handle.close();
  }
}

describe("authorize", () => {
  it("redirects to the provider with state, S256 PKCE of its own and a nonce", async () => {
    const { challenge } = await pkce();
    const response = await send(app, authorizePath("oidc", appA, RETURN_A, challenge));
    expect(response.status).toBe(302);
    const target = new URL(String(response.headers.get("location")));
    expect(target.origin + target.pathname).toBe(`${providersUrl}/oidc/authorize`);
    const params = target.searchParams;
    expect(params.get("client_id")).toBe(oidcA.clientId);
    expect(params.get("redirect_uri")).toBe("http://localhost/v1/auth/oauth/oidc/callback");
    expect(params.get("code_challenge_method")).toBe("S256");
    // Turkey's own challenge towards the provider, never the app's.
    expect(params.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get("code_challenge")).not.toBe(challenge);
    expect(params.get("state")?.length).toBeGreaterThanOrEqual(32);
    expect(params.get("nonce")?.length).toBeGreaterThanOrEqual(32);
    expect(params.get("scope")).toBe("openid email profile");
  });

  it("shows a page, and redirects nowhere, for a return URL not on the app's list", async () => {
    const { challenge } = await pkce();
    for (const target of [
      "https://evil.example.com/auth/return",
      `${RETURN_A}/more`,
      `${RETURN_A}?x=1`,
      "https://a.example.com/auth/",
      RETURN_B,
    ]) {
      const response = await send(app, authorizePath("oidc", appA, target, challenge));
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(await response.text()).toContain("redirect_not_allowed");
    }
  });

  it("counts towards the app's credential rate limit per network, answered with a page", async () => {
    const limited = await createTestApp("oauth-limited");
    await enableProvider(limited, "oidc", [RETURN_A]);
    const path = authorizePath("oidc", limited, RETURN_A, (await pkce()).challenge);
    const from = { headers: { "cf-connecting-ip": "198.51.100.77" } };
    const limits = { RATE_LIMIT_MAX_REQUESTS: "2", RATE_LIMIT_WINDOW_MS: "60000" };
    for (let i = 0; i < 2; i++) expect((await send(app, path, from, limits)).status).toBe(302);
    const refused = await send(app, path, from, limits);
    expect(refused.status).toBe(429);
    expect(await refused.text()).toContain("rate_limited");
  });

  it("refuses a provider the app has not enabled, an unknown app and a plain challenge", async () => {
    const { challenge } = await pkce();
    const github = await send(app, authorizePath("github", appA, RETURN_A, challenge));
    expect(github.status).toBe(404);
    expect(await github.text()).toContain("provider_not_enabled");
    const unknown = await send(app, authorizePath("oidc", "no-such-app", RETURN_A, challenge));
    expect(await unknown.text()).toContain("unknown_app");
    const plain = await send(
      app,
      authorizePath("oidc", appA, RETURN_A, challenge).replace(
        "code_challenge_method=S256",
        "code_challenge_method=plain",
      ),
    );
    expect(plain.status).toBe(400);
    expect(plain.headers.get("location")).toBeNull();
  });
});

describe("callback", () => {
  it("signs a new user up and returns a one-time code that the app's verifier exchanges, never tokens", async () => {
    const { verifier, challenge } = await pkce();
    const address = email();
    const sub = subject();
    await script(oidcA, { sub, email: address, emailVerified: true, name: "Ada" });
    const response = await walkSignIn(app, "oidc", appA, RETURN_A, challenge);
    const location = String(response.headers.get("location"));
    expect(location.startsWith(`${RETURN_A}?`)).toBe(true);
    const params = returned(response);
    expect([...params.keys()]).toEqual(["code"]);
    expect(location).not.toMatch(/token/i);
    const session = await exchange(app, appA, String(params.get("code")), verifier);
    expect(session.user).toMatchObject({ email: address, emailVerified: true });
    expect(decodeJwt(session.accessToken)).toMatchObject({ amr: ["fed"], aal: 1, aud: appA });
    const [user] = await query(sql`
      select u.id, u.email_verified, u.name, u.password_set, i.subject
      from users u join identities i on i.user_id = u.id where u.app_id = ${appA} and u.email = ${address}`);
    expect(user).toMatchObject({
      id: session.user.id,
      email_verified: true,
      name: "Ada",
      password_set: false,
      subject: sub,
    });
    const [audit] = await query(sql`
      select details from audit where user_id = ${session.user.id}::uuid and event = 'login_succeeded'`);
    expect(audit?.details).toMatchObject({ method: "oauth:oidc" });
  });

  it("signs a returning identity in as the same user", async () => {
    const sub = subject();
    await script(oidcA, { sub, email: email(), emailVerified: true });
    const ids: string[] = [];
    for (let round = 0; round < 2; round++) {
      const { verifier, challenge } = await pkce();
      const answer = returned(await walkSignIn(app, "oidc", appA, RETURN_A, challenge));
      ids.push((await exchange(app, appA, String(answer.get("code")), verifier)).user.id);
    }
    expect(ids[1]).toBe(ids[0]);
  });

  it("refuses a replayed state with a page", async () => {
    await script(oidcA, { sub: subject(), email: email(), emailVerified: true });
    const started = await send(app, authorizePath("oidc", appA, RETURN_A, (await pkce()).challenge));
    const back = await visitProvider(String(started.headers.get("location")));
    expect(returned(await callback(app, back)).get("code")).toBeTruthy();
    const replay = await callback(app, back);
    expect(replay.status).toBe(400);
    expect(replay.headers.get("location")).toBeNull();
    expect(await replay.text()).toContain("oauth_state_invalid");
  });

  it("lets only one of two parallel callbacks with the same state through", async () => {
    await script(oidcA, { sub: subject(), email: email(), emailVerified: true });
    const started = await send(app, authorizePath("oidc", appA, RETURN_A, (await pkce()).challenge));
    const back = await visitProvider(String(started.headers.get("location")));
    const answers = await Promise.all([callback(app, back), callback(app, back)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([302, 400]);
    const redirected = answers.find((answer) => answer.status === 302);
    expect(redirected && returned(redirected).get("code")).toBeTruthy();
  });

  it("shows a page for malformed callbacks and unknown providers", async () => {
    for (const path of [
      "/v1/auth/oauth/oidc/callback",
      "/v1/auth/oauth/oidc/callback?code=x",
      "/v1/auth/oauth/myspace/callback?state=x&code=y",
      "/v1/auth/oauth/myspace/authorize?app_id=x",
      "/v1/auth/oauth/oidc/authorize",
    ]) {
      const response = await send(app, path);
      expect(response.status, path).toBe(400);
      expect(response.headers.get("location"), path).toBeNull();
      expect(response.headers.get("content-type"), path).toContain("text/html");
    }
    const posted = await send(app, "/v1/auth/oauth/apple/callback", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ state: "x" }),
    });
    expect(posted.status).toBe(400);
  });

  it("refuses a state of another provider, and a made-up one", async () => {
    await script(oidcA, { sub: subject(), email: email(), emailVerified: true });
    const started = await send(app, authorizePath("oidc", appA, RETURN_A, (await pkce()).challenge));
    const back = await visitProvider(String(started.headers.get("location")));
    const elsewhere = new URL(back.toString().replace("/oauth/oidc/", "/oauth/google/"));
    expect(await (await callback(app, elsewhere)).text()).toContain("oauth_state_invalid");
    back.searchParams.set("state", "made-up-state");
    expect(await (await callback(app, back)).text()).toContain("oauth_state_invalid");
  });

  it("keeps a state bound to its app: a code of app B's provider does not sign in to app A", async () => {
    // Start at app A, but answer with a code the provider issued for app B's client.
    await script(oidcA, { sub: subject(), email: email(), emailVerified: true });
    await script(oidcB, { sub: subject(), email: email(), emailVerified: true });
    const startedA = await send(app, authorizePath("oidc", appA, RETURN_A, (await pkce()).challenge));
    const startedB = await send(app, authorizePath("oidc", appB, RETURN_B, (await pkce()).challenge));
    const backA = await visitProvider(String(startedA.headers.get("location")));
    const backB = await visitProvider(String(startedB.headers.get("location")));
    const mixed = new URL(backA);
    mixed.searchParams.set("code", String(backB.searchParams.get("code")));
    const answer = returned(await callback(app, mixed));
    expect(answer.get("error")).toBe("provider_error");
    expect(answer.get("code")).toBeNull();
  });

  it("returns consent refused at the provider to the app as access_denied", async () => {
    await script(oidcA, { sub: subject(), deny: true });
    const answer = returned(await walkSignIn(app, "oidc", appA, RETURN_A, (await pkce()).challenge));
    expect(answer.get("error")).toBe("access_denied");
    expect(answer.get("error_description")).toBeTruthy();
  });

  it("cannot redeem the provider's code with no verifier at all", async () => {
    await script(oidcA, { sub: subject(), email: email(), emailVerified: true });
    const started = await send(app, authorizePath("oidc", appA, RETURN_A, (await pkce()).challenge));
    const back = await visitProvider(String(started.headers.get("location")));
    const response = await fetch(`${providersUrl}/oidc/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`${oidcA.clientId}:${oidcA.clientSecret}`)}`,
      },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: String(back.searchParams.get("code")),
        redirect_uri: "http://localhost/v1/auth/oauth/oidc/callback",
      }),
    });
    expect(((await response.json()) as { error: string }).error).toBe("invalid_grant");
  });

  it("cannot redeem the provider's code without Turkey's verifier, or twice", async () => {
    await script(oidcA, { sub: subject(), email: email(), emailVerified: true });
    const started = await send(app, authorizePath("oidc", appA, RETURN_A, (await pkce()).challenge));
    const back = await visitProvider(String(started.headers.get("location")));
    const code = String(back.searchParams.get("code"));
    // Someone who saw the callback URL tries the code at the provider without the verifier.
    const stolen = await fetch(`${providersUrl}/oidc/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`${oidcA.clientId}:${oidcA.clientSecret}`)}`,
      },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: "http://localhost/v1/auth/oauth/oidc/callback",
        code_verifier: "a".repeat(43),
      }),
    });
    expect(stolen.status).toBe(400);
    expect(((await stolen.json()) as { error: string }).error).toBe("invalid_grant");
    // The provider spent the code on that attempt: Turkey's own exchange fails too.
    expect(returned(await callback(app, back)).get("error")).toBe("provider_error");
  });

  it.each([
    ["aud", "a token for another client"],
    ["iss", "a token from another issuer"],
    ["nonce", "a token for another sign-in"],
    ["expired", "an expired token"],
    ["signature", "a token signed by a key not in the provider's JWKS"],
  ] as const)("refuses an ID token with a wrong %s (%s)", async (tamper, _case) => {
    const address = email();
    await script(oidcA, { sub: subject(), email: address, emailVerified: true, tamper });
    const answer = returned(await walkSignIn(app, "oidc", appA, RETURN_A, (await pkce()).challenge));
    expect(answer.get("error")).toBe("provider_error");
    expect(answer.get("code")).toBeNull();
    expect(await query(sql`select 1 from users where email = ${address}`)).toHaveLength(0);
  });

  it("returns provider_unavailable when the provider cannot be reached", async () => {
    const down = await createTestApp("oauth-down");
    await enableProvider(down, "oidc", [RETURN_A], "http://127.0.0.1:9/oidc");
    const response = await send(app, authorizePath("oidc", down, RETURN_A, (await pkce()).challenge));
    expect(returned(response).get("error")).toBe("provider_unavailable");
  });

  it("returns provider_unavailable to the app when the token endpoint is down", async () => {
    const down = await createTestApp("oauth-token-down");
    const setup = await enableProvider(down, "oidc", [RETURN_A], `${providersUrl}/token-down`);
    await script(setup, { sub: subject(), email: email(), emailVerified: true });
    const answer = returned(await walkSignIn(app, "oidc", down, RETURN_A, (await pkce()).challenge));
    expect(answer.get("error")).toBe("provider_unavailable");
    expect(answer.get("error_description")).toBeTruthy();
  });

  it("does not return to a URL removed from the list while the sign-in was under way", async () => {
    const target = `https://a.example.com/return-${crypto.randomUUID()}`;
    await query(
      sql`insert into oauth_redirects (app_id, url) values (${appA}, ${target}) on conflict do nothing`,
    );
    await script(oidcA, { sub: subject(), email: email(), emailVerified: true });
    const started = await send(app, authorizePath("oidc", appA, target, (await pkce()).challenge));
    const back = await visitProvider(String(started.headers.get("location")));
    await query(sql`delete from oauth_redirects where app_id = ${appA} and url = ${target}`);
    const response = await callback(app, back);
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
  });
});

describe("exchange", () => {
  async function codeFor(appId: string, setup: ProviderSetup, target: string) {
    const { verifier, challenge } = await pkce();
    await script(setup, { sub: subject(), email: email(), emailVerified: true });
    const answer = returned(await walkSignIn(app, "oidc", appId, target, challenge));
    return { code: String(answer.get("code")), verifier };
  }

  it("refuses a wrong verifier, and the code is spent by that try", async () => {
    const { code, verifier } = await codeFor(appA, oidcA, RETURN_A);
    const wrong = await redeem(app, appA, code, (await pkce()).verifier);
    expect(await errorCode(wrong)).toBe("invalid_grant");
    expect(await errorCode(await redeem(app, appA, code, verifier))).toBe("invalid_grant");
  });

  it("refuses a missing verifier", async () => {
    const { code } = await codeFor(appA, oidcA, RETURN_A);
    const response = await send(
      app,
      "/v1/auth/token",
      postJson({ grant_type: "authorization_code", code }, { "x-app-id": appA }),
    );
    expect(await errorCode(response)).toBe("validation_failed");
  });

  it("refuses a replayed code", async () => {
    const { code, verifier } = await codeFor(appA, oidcA, RETURN_A);
    expect((await redeem(app, appA, code, verifier)).status).toBe(200);
    expect(await errorCode(await redeem(app, appA, code, verifier))).toBe("invalid_grant");
  });

  it("refuses a code exchanged as another app", async () => {
    const { code, verifier } = await codeFor(appA, oidcA, RETURN_A);
    expect(await errorCode(await redeem(app, appB, code, verifier))).toBe("invalid_grant");
  });

  it("answers mfaRequired for a user with a confirmed second factor", async () => {
    const { verifier, challenge } = await pkce();
    const sub = subject();
    await script(oidcA, { sub, email: email(), emailVerified: true });
    const first = returned(await walkSignIn(app, "oidc", appA, RETURN_A, challenge));
    const session = await exchange(app, appA, String(first.get("code")), verifier);
    await query(sql`
      insert into mfa_factors (app_id, user_id, kind, secret_sealed, confirmed_at)
      values (${appA}, ${session.user.id}::uuid, 'totp', 'v1.x.y.z', now())`);
    const again = await pkce();
    const second = returned(await walkSignIn(app, "oidc", appA, RETURN_A, again.challenge));
    const answer = (await (await redeem(app, appA, String(second.get("code")), again.verifier)).json()) as {
      mfaRequired?: boolean;
      accessToken?: string;
    };
    expect(answer.mfaRequired).toBe(true);
    expect(answer.accessToken).toBeUndefined();
  });
});

describe("at rest", () => {
  it("keeps client secrets and verifiers sealed, and state only as a hash", async () => {
    const [provider] = await query<{ client_secret_sealed: string }>(sql`
      select client_secret_sealed from oauth_providers where app_id = ${appA} and provider = 'oidc'`);
    expect(provider?.client_secret_sealed).toMatch(/^v1\./);
    expect(provider?.client_secret_sealed).not.toContain(oidcA.clientSecret);
    const started = await send(app, authorizePath("oidc", appA, RETURN_A, (await pkce()).challenge));
    const state = String(new URL(String(started.headers.get("location"))).searchParams.get("state"));
    const rows = await query<{ state_hash: string; verifier_sealed: string }>(sql`
      select state_hash, verifier_sealed from oauth_states where app_id = ${appA} order by created_at desc limit 1`);
    expect(rows[0]?.state_hash).not.toBe(state);
    expect(rows[0]?.verifier_sealed).toMatch(/^v1\./);
  });
});
