/**
 * The presets, pointed at fake providers through their issuer override: GitHub (OAuth 2.0 and
 * its REST API), Google, Microsoft, and Apple (which posts its answer as a form).
 */
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { forgetServers } from "../src/federation/servers";
import { createTestApp, uniqueEmail } from "./support/fixtures";
import {
  authorizePath,
  enableProvider,
  exchange,
  type ProviderSetup,
  pkce,
  returned,
  script,
  visitProvider,
  walkSignIn,
} from "./support/oauth";
import { openTestDatabase, send } from "./support/worker";

const app = createApp();
let appId: string;
const setups = {} as Record<"github" | "google" | "microsoft" | "apple", ProviderSetup>;
const RETURN = "https://presets.example.com/return";

beforeAll(async () => {
  forgetServers();
  appId = await createTestApp("presets");
  for (const provider of ["github", "google", "microsoft", "apple"] as const)
    setups[provider] = await enableProvider(appId, provider, [RETURN]);
});

const subject = () => String(Math.floor(Math.random() * 1e9));

async function userOf(email: string) {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute(sql`
      select u.email_verified, u.name, i.provider, i.subject from users u join identities i on i.user_id = u.id
      where u.app_id = ${appId} and u.email = ${email}`);
    return result.rows[0];
  } finally {
    await handle.close();
  }
}

describe("GitHub", () => {
  it("signs in with the user's numeric id and verified primary email", async () => {
    const email = uniqueEmail();
    const sub = subject();
    await script(setups.github, { sub, email, name: "Grace" });
    const { verifier, challenge } = await pkce();
    const started = await send(app, authorizePath("github", appId, RETURN, challenge));
    const target = new URL(String(started.headers.get("location")));
    expect(target.pathname).toBe("/github/login/oauth/authorize");
    expect(target.searchParams.get("scope")).toBe("read:user user:email");
    expect(target.searchParams.get("nonce")).toBeNull();
    const answer = returned(await send(app, pathOf(await visitProvider(target.toString()))));
    const session = await exchange(app, appId, String(answer.get("code")), verifier);
    expect(session.user.email).toBe(email);
    expect(await userOf(email)).toMatchObject({
      email_verified: true,
      name: "Grace",
      provider: "github",
      subject: sub,
    });
  });

  it("takes an unverified primary email as unverified", async () => {
    const email = uniqueEmail();
    await script(setups.github, { sub: subject(), email, unverifiedPrimary: true });
    const answer = returned(await walkSignIn(app, "github", appId, RETURN, (await pkce()).challenge));
    expect(answer.get("code")).toBeTruthy();
    expect(await userOf(email)).toMatchObject({ email_verified: false });
  });

  it("returns provider_error when GitHub refuses the code", async () => {
    await script(setups.github, { sub: subject(), email: uniqueEmail() });
    const started = await send(app, authorizePath("github", appId, RETURN, (await pkce()).challenge));
    const back = await visitProvider(String(started.headers.get("location")));
    back.searchParams.set("code", "not-a-code");
    expect(returned(await send(app, pathOf(back))).get("error")).toBe("provider_error");
  });
});

describe.each(["google", "microsoft"] as const)("%s", (provider) => {
  it("signs in through OpenID Connect", async () => {
    const email = uniqueEmail();
    await script(setups[provider], { sub: `sub-${subject()}`, email, emailVerified: true });
    const { verifier, challenge } = await pkce();
    const answer = returned(await walkSignIn(app, provider, appId, RETURN, challenge));
    const session = await exchange(app, appId, String(answer.get("code")), verifier);
    expect(session.user.email).toBe(email);
    expect(await userOf(email)).toMatchObject({ email_verified: true, provider });
  });
});

describe("Apple", () => {
  it("asks for a form post and takes the answer posted to the callback", async () => {
    const email = uniqueEmail();
    await script(setups.apple, { sub: `apple-${subject()}`, email, emailVerified: true });
    const { verifier, challenge } = await pkce();
    const started = await send(app, authorizePath("apple", appId, RETURN, challenge));
    const target = new URL(String(started.headers.get("location")));
    expect(target.searchParams.get("response_mode")).toBe("form_post");
    const back = await visitProvider(target.toString());
    const posted = await send(app, back.pathname, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: back.searchParams.toString(),
    });
    const session = await exchange(app, appId, String(returned(posted).get("code")), verifier);
    expect(session.user.email).toBe(email);
  });
});

describe("Apple with a .p8 key", () => {
  it("signs a fresh client-secret JWT for each exchange, which Apple's check accepts", async () => {
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", keys.privateKey)) as ArrayBuffer);
    const pem = `-----BEGIN PRIVATE KEY-----\n${btoa(String.fromCharCode(...pkcs8))}\n-----END PRIVATE KEY-----`;
    const publicJwk = (await crypto.subtle.exportKey("jwk", keys.publicKey)) as unknown as Record<
      string,
      string
    >;
    const keyed = await createTestApp("apple-p8");
    const stored = JSON.stringify({ teamId: "TEAM123456", keyId: "KEY1234567", privateKey: pem });
    const setup = await enableProvider(keyed, "apple", [RETURN], undefined, {
      clientId: `com.example.${crypto.randomUUID().slice(0, 8)}`,
      clientSecret: stored,
    });
    const email = uniqueEmail();
    await script(setup, {
      sub: `apple-${subject()}`,
      email,
      emailVerified: true,
      appleKey: { teamId: "TEAM123456", keyId: "KEY1234567", publicJwk },
    });
    const { verifier, challenge } = await pkce();
    const answer = returned(await walkSignIn(app, "apple", keyed, RETURN, challenge));
    expect(answer.get("error")).toBeNull();
    expect((await exchange(app, keyed, String(answer.get("code")), verifier)).user.email).toBe(email);
  });
});

function pathOf(url: URL): string {
  return url.pathname + url.search;
}
