/** The SDK's second-factor flow against the real worker: enrol, login → mfaRequired, verifyMfa, and hasAal on the backend. */
import * as OTPAuth from "otpauth";
import { beforeAll, describe, expect, it } from "vitest";
import { hasAal, TurKeyClient, TurKeyError, TurKeyServer } from "../packages/sdk/src/index";
import { createApp } from "../src/app";
import { createTestApp, manualClock, PASSWORD, uniqueEmail } from "./support/fixtures";
import { BASE_URL, caught, routedFetch } from "./support/sdk";

const clock = manualClock();
const app = createApp({ clock: clock.now });
let appId: string;

beforeAll(async () => {
  appId = await createTestApp("sdk-mfa");
});

const options = () => ({
  baseUrl: BASE_URL,
  appId,
  fetch: routedFetch(app).fetch,
  now: () => clock.now().getTime(),
});
const code = (totp: OTPAuth.TOTP) => totp.generate({ timestamp: clock.now().getTime() });

describe("TurKeyClient with a second factor", () => {
  it("enrols TOTP, then signs in with login + verifyMfa, and the backend sees aal 2", async () => {
    const email = uniqueEmail();
    const first = new TurKeyClient(options());
    await first.register({ email, password: PASSWORD });
    const server = new TurKeyServer(options());
    const passwordOnly = await server.verifyAccessToken(await first.getAccessToken());
    expect(passwordOnly).toMatchObject({ amr: ["pwd"], aal: 1 });
    expect(hasAal(passwordOnly, 2)).toBe(false);

    const { otpauthUrl } = await first.enrollTotp();
    const totp = OTPAuth.URI.parse(otpauthUrl) as OTPAuth.TOTP;
    const { recoveryCodes } = await first.confirmTotp({ code: code(totp) });
    expect(recoveryCodes).toHaveLength(10);
    clock.advance(30);

    const second = new TurKeyClient(options());
    expect(await second.login({ email, password: PASSWORD })).toEqual({
      mfaRequired: true,
      methods: ["totp", "recovery_code"],
    });
    expect(await second.getAccessToken()).toBeNull();
    const wrong = await caught(second.verifyMfa({ code: "000000" }));
    expect(wrong).toBeInstanceOf(TurKeyError);
    expect((wrong as TurKeyError).code).toBe("invalid_mfa_code");
    const tokens = await second.verifyMfa({ code: code(totp) });
    expect(tokens.user.email).toBe(email);
    const claims = await server.verifyAccessToken(await second.getAccessToken());
    expect(claims).toMatchObject({ amr: ["pwd", "otp"], aal: 2 });
    expect(hasAal(claims, 2)).toBe(true);

    const third = new TurKeyClient(options());
    await third.login({ email, password: PASSWORD });
    await third.verifyMfa({ recoveryCode: recoveryCodes[0] ?? "" });
    expect(hasAal(await server.verifyAccessToken(await third.getAccessToken()), 2)).toBe(true);
  });

  it("refuses verifyMfa without a pending login", async () => {
    const error = await caught(new TurKeyClient(options()).verifyMfa({ code: "123456" }));
    expect((error as TurKeyError).code).toBe("mfa_token_invalid");
  });
});
