/** The SDK's social sign-in against the real worker and a fake provider: start, return, link, unlink. */
import { beforeAll, describe, expect, it } from "vitest";
import { TurKeyClient } from "../packages/sdk/src/index";
import { createApp } from "../src/app";
import { forgetServers } from "../src/federation/servers";
import { createTestApp, uniqueEmail } from "./support/fixtures";
import { enableProvider, type ProviderSetup, script, visitProvider } from "./support/oauth";
import { BASE_URL, caught, type RoutedFetch, routedFetch } from "./support/sdk";

const app = createApp();
const RETURN = "https://sdk-oauth.example.com/return";
let appId: string;
let oidc: ProviderSetup;
let github: ProviderSetup;
let routed: RoutedFetch;

beforeAll(async () => {
  forgetServers();
  appId = await createTestApp("sdk-oauth");
  oidc = await enableProvider(appId, "oidc", [RETURN]);
  github = await enableProvider(appId, "github", [RETURN]);
  routed = routedFetch(app);
});

function sdk(): TurKeyClient {
  return new TurKeyClient({ baseUrl: BASE_URL, appId, fetch: routed.fetch });
}

/** What the browser does between the two SDK calls: provider, then Turkey's callback. */
async function browse(start: string): Promise<string> {
  const atTurkey = await routed.fetch(start, { redirect: "manual" });
  expect(atTurkey.status).toBe(302);
  const back = await visitProvider(String(atTurkey.headers.get("location")));
  const callback = await routed.fetch(back.toString(), { redirect: "manual" });
  expect(callback.status).toBe(302);
  return String(callback.headers.get("location"));
}

describe("signInWithOAuth and handleRedirect", () => {
  it("sign in through the provider; only the browser that started can finish", async () => {
    const email = uniqueEmail();
    await script(oidc, { sub: `sdk-${crypto.randomUUID()}`, email, emailVerified: true });
    const turkey = sdk();
    const start = await turkey.signInWithOAuth({ provider: "oidc", redirectTo: RETURN });
    expect(start.startsWith(`${BASE_URL}/v1/auth/oauth/oidc/authorize?`)).toBe(true);
    const returned = await browse(start);
    expect(await caught(sdk().handleRedirect(returned))).toMatchObject({ code: "invalid_grant" });
    const result = await turkey.handleRedirect(returned);
    if (!result || !("accessToken" in result)) throw new Error("not signed in");
    expect(result.user.email).toBe(email);
    expect(await turkey.getAccessToken()).toBe(result.accessToken);
  });

  it("links, lists and unlinks identities, never the last way in", async () => {
    await script(oidc, { sub: `sdk-${crypto.randomUUID()}`, email: uniqueEmail(), emailVerified: true });
    const turkey = sdk();
    await turkey.handleRedirect(
      await browse(await turkey.signInWithOAuth({ provider: "oidc", redirectTo: RETURN })),
    );
    const [only] = await turkey.listIdentities();
    expect(await caught(turkey.unlinkIdentity({ id: only?.id ?? "" }))).toMatchObject({
      code: "last_sign_in_method",
    });
    await script(github, { sub: String(Date.now() % 1e9), email: uniqueEmail() });
    const link = await turkey.linkIdentity({ provider: "github", redirectTo: RETURN });
    const back = await visitProvider(link);
    const linked = await routed.fetch(back.toString(), { redirect: "manual" });
    expect(new URL(String(linked.headers.get("location"))).searchParams.get("linked")).toBe("github");
    expect((await turkey.listIdentities()).map((identity) => identity.provider)).toEqual(["oidc", "github"]);
    await turkey.unlinkIdentity({ id: only?.id ?? "" });
    expect((await turkey.listIdentities()).map((identity) => identity.provider)).toEqual(["github"]);
  });
});
