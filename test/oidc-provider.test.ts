/**
 * Against a real OpenID Connect provider (oidc-provider, started by the test setup) with its
 * login and consent pages: as the `oidc` provider, and as the Google, Microsoft and Apple
 * presets pointed at it (Apple's answer comes back as a form post).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import type { ProviderName } from "../src/federation/providers";
import { forgetServers } from "../src/federation/servers";
import { createTestApp } from "./support/fixtures";
import { authorizePath, enableProvider, exchange, type ProviderSetup, pkce, returned } from "./support/oauth";
import { walkProviderPages } from "./support/oidc-pages";
import { bindings, send } from "./support/worker";

const app = createApp();
const RETURN = "https://real-oidc.example.com/return";
const ISSUER = String(bindings.TEST_OIDC_ISSUER);
const CLIENT = JSON.parse(String(bindings.TEST_OIDC_CLIENT)) as ProviderSetup;
let appId: string;

beforeAll(async () => {
  forgetServers();
  appId = await createTestApp("real-oidc");
  for (const provider of ["oidc", "google", "microsoft", "apple"] as const)
    await enableProvider(appId, provider, [RETURN], ISSUER, CLIENT);
});

async function signIn(provider: ProviderName, login: string) {
  const { verifier, challenge } = await pkce();
  const started = await send(app, authorizePath(provider, appId, RETURN, challenge));
  expect(started.status).toBe(302);
  const back = await walkProviderPages(String(started.headers.get("location")), "http://localhost", login);
  const init: RequestInit =
    back.method === "POST"
      ? {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: back.body ?? "",
        }
      : {};
  const answer = returned(await send(app, back.url.pathname + back.url.search, init));
  expect(answer.get("error")).toBeNull();
  return { session: await exchange(app, appId, String(answer.get("code")), verifier), method: back.method };
}

describe("a real OpenID Connect provider", () => {
  it.each(["oidc", "google", "microsoft"] as const)(
    "signs in through its login and consent pages as %s",
    async (provider) => {
      const login = `${provider}-${crypto.randomUUID().slice(0, 8)}`;
      const { session, method } = await signIn(provider, login);
      expect(method).toBe("GET");
      expect(session.user).toMatchObject({ email: `${login}@oidc.test`, emailVerified: true });
    },
  );

  it("signs in as apple through a form post to the callback", async () => {
    const login = `apple-${crypto.randomUUID().slice(0, 8)}`;
    const { session, method } = await signIn("apple", login);
    expect(method).toBe("POST");
    expect(session.user.email).toBe(`${login}@oidc.test`);
  });

  it("signs the same provider account in as the same user", async () => {
    const login = `again-${crypto.randomUUID().slice(0, 8)}`;
    const first = await signIn("oidc", login);
    const second = await signIn("oidc", login);
    expect(second.session.user.id).toBe(first.session.user.id);
  });
});
