/** The SDK's email flows against the real worker; links are read back from the fake Mailgun. */
import { beforeEach, describe, expect, it } from "vitest";
import { type AuthChangeEvent, type TokenResponse, TurKeyClient, type User } from "../packages/sdk/src/index";
import { createApp } from "../src/app";
import { createTestApp, PASSWORD, uniqueEmail } from "./support/fixtures";
import { BASE_URL, caught, mailedToken, type RoutedFetch, routedFetch, signedIn } from "./support/sdk";

const app = createApp();
const NEW_PASSWORD = "an entirely new passphrase";
let appId: string;
let routed: RoutedFetch;

beforeEach(async () => {
  appId = await createTestApp("sdk-mail");
  routed = routedFetch(app);
});

function sdk(fetch = routed.fetch): TurKeyClient {
  return new TurKeyClient({ baseUrl: BASE_URL, appId, fetch });
}

describe("email verification", () => {
  it("verifyEmail confirms the address and updates the stored user", async () => {
    const email = uniqueEmail();
    const turkey = sdk();
    const tokens = await signedIn(turkey, email);
    expect(tokens.user.emailVerified).toBe(false);
    const updates: [AuthChangeEvent, User | null][] = [];
    turkey.onAuthStateChange((event, user) => updates.push([event, user]));

    const token = await mailedToken(email, "verify-email");
    const { user } = await turkey.verifyEmail({ token });
    expect(user).toMatchObject({ id: tokens.user.id, emailVerified: true });
    expect(updates).toEqual([["user_updated", user]]);
    expect(await turkey.getUser()).toEqual(user);
    expect(await caught(turkey.verifyEmail({ token }))).toMatchObject({ code: "invalid_token", status: 400 });
  });

  it("resendVerification answers the same for known and unknown emails", async () => {
    const email = uniqueEmail();
    await signedIn(sdk(), email);
    expect(await sdk().resendVerification({ email })).toEqual({ accepted: true });
    expect(await sdk().resendVerification({ email: uniqueEmail() })).toEqual({ accepted: true });
    const { user } = await sdk().verifyEmail({ token: await mailedToken(email, "verify-email") });
    expect(user.emailVerified).toBe(true);
  });

  it("register stores nothing when the server requires verification first", async () => {
    const strict = routedFetch(app, { REQUIRE_EMAIL_VERIFICATION: "true" });
    const turkey = sdk(strict.fetch);
    const events: AuthChangeEvent[] = [];
    turkey.onAuthStateChange((event) => events.push(event));
    const email = uniqueEmail();
    const result = await turkey.register({ email, password: PASSWORD });
    expect(result).toMatchObject({ verificationRequired: true, user: { email, emailVerified: false } });
    expect(result).not.toHaveProperty("accessToken");
    expect(await turkey.getAccessToken()).toBeNull();
    expect(events).toEqual([]);

    await turkey.verifyEmail({ token: await mailedToken(email, "verify-email") });
    const tokens = (await turkey.login({ email, password: PASSWORD })) as TokenResponse;
    expect(tokens.user.emailVerified).toBe(true);
    expect(events).toEqual(["signed_in"]);
  });
});

describe("password reset", () => {
  it("forgotPassword then resetPassword: new password works, every session ends", async () => {
    const email = uniqueEmail();
    const laptop = sdk();
    const phone = sdk();
    await signedIn(laptop, email);
    await phone.login({ email, password: PASSWORD });
    const events: AuthChangeEvent[] = [];
    laptop.onAuthStateChange((event) => events.push(event));

    expect(await laptop.forgotPassword({ email })).toEqual({ accepted: true });
    expect(await sdk().forgotPassword({ email: uniqueEmail() })).toEqual({ accepted: true });
    const token = await mailedToken(email, "reset-password");
    const { user } = await laptop.resetPassword({ token, password: NEW_PASSWORD });
    expect(user.email).toBe(email);
    // The server ended every session; the client that reset forgets its own at once.
    expect(events).toEqual(["signed_out"]);
    expect(await laptop.getAccessToken()).toBeNull();
    expect((await caught(phone.getUser())).code).toBe("invalid_refresh_token");
    expect(await phone.getAccessToken()).toBeNull();

    expect((await caught(sdk().login({ email, password: PASSWORD }))).code).toBe("invalid_credentials");
    expect(((await sdk().login({ email, password: NEW_PASSWORD })) as TokenResponse).user.id).toBe(user.id);
    expect((await caught(sdk().resetPassword({ token, password: PASSWORD }))).code).toBe("invalid_token");
  });
});

describe("changePassword", () => {
  it("keeps this session, ends the others, and refuses a wrong current password", async () => {
    const email = uniqueEmail();
    const laptop = sdk();
    const phone = sdk();
    await signedIn(laptop, email);
    await phone.login({ email, password: PASSWORD });

    const wrong = await caught(
      laptop.changePassword({ currentPassword: "not it", newPassword: NEW_PASSWORD }),
    );
    expect(wrong).toMatchObject({ code: "invalid_credentials", status: 401 });
    expect(await laptop.getAccessToken()).toEqual(expect.any(String));

    const { user } = await laptop.changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    expect(user.email).toBe(email);
    expect((await laptop.getUser()).id).toBe(user.id);
    expect((await laptop.listSessions()).sessions).toHaveLength(1);
    expect((await caught(phone.getUser())).code).toBe("invalid_refresh_token");
    expect(((await sdk().login({ email, password: NEW_PASSWORD })) as TokenResponse).user.id).toBe(user.id);
  });

  it("needs a signed-in user", async () => {
    const error = await caught(
      sdk().changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
    );
    expect(error.code).toBe("not_signed_in");
  });
});
