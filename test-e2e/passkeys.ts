/**
 * Passkeys in Chromium, through the installed SDK: a CDP virtual authenticator (CTAP2, built
 * into the device, resident keys, user verification) stands in for the platform's. The user
 * adds a passkey, signs out, and signs in with it alone (no email, no password); then, with
 * TOTP on, a password login asks for a second factor and the passkey completes it. The app's
 * backend checks what each session proved (amr, aal). Screenshots of each step.
 */
import type { Page } from "playwright-core";

export interface PasskeyHelpers {
  expectAction(page: Page, action: string, mustContain?: string): Promise<void>;
  expectThat(name: string, ok: boolean, detail?: string): void;
  screenshot(page: Page, name: string): Promise<void>;
  /** The claims the app's backend sees for the page's stored access token. */
  claims(page: Page): Promise<{ amr?: string[]; aal?: number } | null>;
  /** Enrols TOTP on the page; answers a function giving a code valid now. */
  enableTotp(page: Page): Promise<() => string>;
}

/** Adds a virtual authenticator to the page, as a phone's or laptop's built-in one. */
async function addVirtualAuthenticator(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
}

export async function checkPasskeys(page: Page, email: string, helpers: PasskeyHelpers): Promise<void> {
  const { expectAction, expectThat, screenshot, claims } = helpers;
  console.log("\npasskeys (virtual authenticator)");
  await addVirtualAuthenticator(page);
  await expectAction(page, "signUp", email);
  await expectAction(page, "addPasskey", 'passkey "This browser" added (singleDevice)');
  await expectAction(page, "passkeys", "1 passkeys: This browser");
  await screenshot(page, "browser-passkey-added.png");
  await expectAction(page, "logOut", "logged out");
  await page.fill('input[name="email"]', "");
  await expectAction(page, "passkeyLogin", `logged in as ${email} with a passkey`);
  const passwordless = await claims(page);
  expectThat(
    "the backend sees amr [hwk] and aal 2 after a passwordless sign-in",
    passwordless?.aal === 2 && passwordless.amr?.join() === "hwk",
    JSON.stringify(passwordless),
  );
  await screenshot(page, "browser-passkey-signed-in.png");

  await page.fill('input[name="email"]', email);
  await helpers.enableTotp(page);
  await expectAction(page, "logOut", "logged out");
  await expectAction(page, "logIn", "second factor required: totp, recovery_code, passkey");
  await screenshot(page, "browser-passkey-second-factor-required.png");
  await expectAction(page, "verifyPasskey", "with a passkey as second factor");
  const second = await claims(page);
  expectThat(
    "the backend sees amr [pwd, hwk] and aal 2 after password + passkey",
    second?.aal === 2 && second.amr?.join() === "pwd,hwk",
    JSON.stringify(second),
  );
  await screenshot(page, "browser-passkey-second-factor.png");
  await expectAction(page, "logOut", "logged out");
}
