/** The SDK's account calls against the real worker: change of email, deletion, export. */
import { beforeEach, describe, expect, it } from "vitest";
import { type AuthChangeEvent, TurKeyClient } from "../packages/sdk/src/index";
import { createApp } from "../src/app";
import { forgetApps } from "../src/apps/registry";
import { createTestApp, PASSWORD, uniqueEmail } from "./support/fixtures";
import { inbox, linkToken } from "./support/mail";
import { BASE_URL, caught, mailedToken, type RoutedFetch, routedFetch, signedIn } from "./support/sdk";
import { openTestDatabase } from "./support/worker";

const app = createApp();
let appId: string;
let routed: RoutedFetch;

beforeEach(async () => {
  appId = await createTestApp("sdk-account");
  routed = routedFetch(app);
});

function sdk(): TurKeyClient {
  return new TurKeyClient({ baseUrl: BASE_URL, appId, fetch: routed.fetch });
}

describe("change of email", () => {
  it("changeEmail then confirmEmail moves the account and updates the stored user", async () => {
    const turkey = sdk();
    const tokens = await signedIn(turkey, uniqueEmail());
    const newEmail = uniqueEmail();
    expect(await caught(turkey.changeEmail({ newEmail, password: "wrong password" }))).toMatchObject({
      code: "invalid_credentials",
    });
    expect(await turkey.changeEmail({ newEmail, password: PASSWORD })).toEqual({ accepted: true });
    const token = await mailedToken(newEmail, "confirm-email");
    const { user } = await turkey.confirmEmail({ token });
    expect(user).toMatchObject({ id: tokens.user.id, email: newEmail, emailVerified: true });
    expect(await turkey.getUser()).toEqual(user);
    expect(await caught(turkey.confirmEmail({ token }))).toMatchObject({
      code: "invalid_token",
      status: 400,
    });
  });
});

describe("sign-in by email", () => {
  it("requestEmailLogin then verifyEmailLogin signs in and stores the session", async () => {
    const email = uniqueEmail();
    await signedIn(sdk(), email);
    const handle = openTestDatabase();
    try {
      await handle.db.execute(`update apps set email_login = true where id = '${appId}'`);
    } finally {
      await handle.close();
    }
    forgetApps();
    const turkey = sdk();
    const events: AuthChangeEvent[] = [];
    turkey.onAuthStateChange((event) => events.push(event));
    expect(await turkey.requestEmailLogin({ email })).toEqual({ accepted: true });
    const token = await linkToken(email, "email-login");
    if (!token) throw new Error("no sign-in link mailed");
    const tokens = await turkey.verifyEmailLogin({ token });
    if (!("accessToken" in tokens)) throw new Error("no tokens");
    expect(tokens.user.email).toBe(email);
    expect(events).toEqual(["signed_in"]);
    expect(await turkey.getAccessToken()).toBe(tokens.accessToken);
    expect(await caught(turkey.verifyEmailLogin({ email, code: "000000" }))).toMatchObject({
      code: "invalid_code",
      status: 401,
    });
  });
});

describe("deletion and export", () => {
  it("exportAccount returns the document; deleteAccount deletes and signs out", async () => {
    const turkey = sdk();
    const email = uniqueEmail();
    const tokens = await signedIn(turkey, email);
    const data = await turkey.exportAccount();
    expect(data.user).toMatchObject({ id: tokens.user.id, email });
    expect(data.sessions.length).toBeGreaterThan(0);

    const events: AuthChangeEvent[] = [];
    turkey.onAuthStateChange((event) => events.push(event));
    expect(await caught(turkey.deleteAccount({ password: "wrong password" }))).toMatchObject({
      code: "invalid_credentials",
    });
    await turkey.deleteAccount({ password: PASSWORD });
    expect(events).toEqual(["signed_out"]);
    expect(await turkey.getAccessToken()).toBeNull();
    expect(await caught(sdk().login({ email, password: PASSWORD }))).toMatchObject({
      code: "invalid_credentials",
    });
  });

  it("handleRedirect finishes a link followed on the hosted page, only in the browser that asked", async () => {
    const handle = openTestDatabase();
    try {
      await handle.db.execute(
        `update apps set email_login = true, hosted_pages = true where id = '${appId}'`,
      );
    } finally {
      await handle.close();
    }
    forgetApps();
    const email = uniqueEmail();
    const turkey = sdk();
    await signedIn(turkey, email);
    await turkey.logout();
    expect(await turkey.handleRedirect(`https://${appId}.example.com/`)).toBeNull();
    await turkey.requestEmailLogin({ email });
    const token = await linkToken(email, "email-login");
    const submitted = await routed.fetch(`${BASE_URL}/pages/${appId}/email-login?token=${token}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: token ?? "" }).toString(),
    });
    expect(submitted.status).toBe(303);
    const returned = submitted.headers.get("location") ?? "";

    // Another browser (another client, without the verifier) cannot use the code.
    expect(await caught(sdk().handleRedirect(returned))).toMatchObject({ code: "invalid_grant" });
    const result = await turkey.handleRedirect(returned);
    if (!result || !("accessToken" in result)) throw new Error("not signed in");
    expect(result.user.email).toBe(email);
    expect(await turkey.getAccessToken()).toBe(result.accessToken);
    expect(await caught(turkey.handleRedirect(`${returned}`))).toMatchObject({ code: "invalid_grant" });
  });

  it("handleRedirect reports the error the URL carries", async () => {
    expect(
      await caught(
        sdk().handleRedirect(`https://${appId}.example.com/?error=access_denied&error_description=no`),
      ),
    ).toMatchObject({ code: "access_denied" });
  });
});

describe("deletion by a mailed code", () => {
  it("requestDeletionCode then deleteAccount({code}) deletes and signs out", async () => {
    const turkey = sdk();
    const email = uniqueEmail();
    await signedIn(turkey, email);
    expect(await turkey.requestDeletionCode()).toEqual({ accepted: true });
    const mails = (await inbox(email)).filter((mail) => mail.subject.includes("delete your account"));
    const code = /is (\d{6})\./.exec(mails.at(-1)?.text ?? "")?.[1] ?? "";
    await turkey.deleteAccount({ code });
    expect(await turkey.getAccessToken()).toBeNull();
  });
});
