/**
 * The SDK's passkey calls against the real worker, with a stand-in for navigator.credentials
 * that speaks ArrayBuffers the way a browser does (backed by the software authenticator), so
 * the SDK's own base64url conversions are what the server checks.
 */
import * as OTPAuth from "otpauth";
import { beforeAll, describe, expect, it } from "vitest";
import { type CredentialsLike, TurKeyClient, TurKeyError, TurKeyServer } from "../packages/sdk/src/index";
import { createApp } from "../src/app";
import { fromBase64Url, toBase64Url } from "../src/crypto/base64url";
import { createTestApp, manualClock, PASSWORD, uniqueEmail } from "./support/fixtures";
import { BASE_URL, caught, routedFetch } from "./support/sdk";
import { SoftwareAuthenticator } from "./support/webauthn";

const clock = manualClock();
const app = createApp({ clock: clock.now });
let appId: string;

beforeAll(async () => {
  appId = await createTestApp("sdk-passkeys");
});

type Binary = ArrayBuffer | Uint8Array;
const encode = (value: Binary) => toBase64Url(new Uint8Array(value));
const buffer = (text: string) => fromBase64Url(text).slice().buffer;

/** navigator.credentials as a browser offers it: binary options in, a PublicKeyCredential-like object out. */
function browserCredentials(authenticator: SoftwareAuthenticator): CredentialsLike & { calls: string[] } {
  const calls: string[] = [];
  const asCredential = (
    json:
      | Awaited<ReturnType<SoftwareAuthenticator["get"]>>
      | Awaited<ReturnType<SoftwareAuthenticator["create"]>>,
  ) => {
    const response = json.response as Record<string, unknown>;
    const binary = Object.fromEntries(
      Object.entries(response)
        .filter(([, value]) => typeof value === "string")
        .map(([key, value]) => [key, buffer(value as string)]),
    );
    return {
      id: json.id,
      rawId: buffer(json.rawId),
      type: json.type,
      authenticatorAttachment: json.authenticatorAttachment,
      response: { ...binary, getTransports: () => response.transports },
      getClientExtensionResults: () => ({}),
    };
  };
  return {
    calls,
    async create({ publicKey }) {
      calls.push("create");
      const options = publicKey as {
        challenge: Binary;
        rp: { id: string; name: string };
        user: { id: Binary; name: string; displayName: string };
      };
      const created = await authenticator.create({
        ...options,
        challenge: encode(options.challenge),
        user: { ...options.user, id: encode(options.user.id) },
      });
      return asCredential(created);
    },
    async get({ publicKey }) {
      calls.push("get");
      const options = publicKey as { challenge: Binary; rpId: string; allowCredentials: { id: Binary }[] };
      const signed = await authenticator.get({
        ...options,
        challenge: encode(options.challenge),
        allowCredentials: options.allowCredentials.map((allowed) => ({ id: encode(allowed.id) })),
      });
      return asCredential(signed);
    },
  };
}

const options = (credentials?: CredentialsLike) => ({
  baseUrl: BASE_URL,
  appId,
  fetch: routedFetch(app).fetch,
  now: () => clock.now().getTime(),
  ...(credentials ? { credentials } : {}),
});

describe("TurKeyClient with passkeys", () => {
  it("adds a passkey, lists it, signs in with it alone, then removes it", async () => {
    const email = uniqueEmail();
    const authenticator = new SoftwareAuthenticator(`https://${appId}.example.com`, { synced: true });
    const credentials = browserCredentials(authenticator);
    const first = new TurKeyClient(options(credentials));
    await first.register({ email, password: PASSWORD });
    const passkey = await first.registerPasskey({ name: "Phone" });
    expect(passkey).toMatchObject({ name: "Phone", deviceType: "multiDevice", backedUp: true });
    expect((await first.listPasskeys()).passkeys.map((p) => p.id)).toEqual([passkey.id]);

    const second = new TurKeyClient(options(credentials));
    const tokens = await second.loginWithPasskey();
    if (!("user" in tokens)) throw new Error("no session");
    expect(tokens.user.email).toBe(email);
    const server = new TurKeyServer(options());
    expect(await server.verifyAccessToken(await second.getAccessToken())).toMatchObject({
      amr: ["swk"],
      aal: 2,
    });
    const byEmail = new TurKeyClient(options(credentials));
    expect(await byEmail.loginWithPasskey({ email })).toMatchObject({ user: { email } });

    await second.deletePasskey({ id: passkey.id });
    expect(await second.listPasskeys()).toEqual({ passkeys: [] });
    const refused = await caught(new TurKeyClient(options(credentials)).loginWithPasskey());
    expect((refused as TurKeyError).code).toBe("passkey_invalid");
    expect(credentials.calls).toEqual(["create", "get", "get", "get"]);
  });

  it("completes a password login with a passkey as the second factor", async () => {
    const email = uniqueEmail();
    const authenticator = new SoftwareAuthenticator(`https://${appId}.example.com`);
    const first = new TurKeyClient(options(browserCredentials(authenticator)));
    await first.register({ email, password: PASSWORD });
    const { otpauthUrl } = await first.enrollTotp();
    const totp = OTPAuth.URI.parse(otpauthUrl) as OTPAuth.TOTP;
    await first.confirmTotp({ code: totp.generate({ timestamp: clock.now().getTime() }) });
    await first.registerPasskey();

    const second = new TurKeyClient(options(browserCredentials(authenticator)));
    expect(await second.login({ email, password: PASSWORD })).toEqual({
      mfaRequired: true,
      methods: ["totp", "recovery_code", "passkey"],
    });
    await second.verifyMfa({ passkey: true });
    const claims = await new TurKeyServer(options()).verifyAccessToken(await second.getAccessToken());
    expect(claims).toMatchObject({ amr: ["pwd", "hwk"], aal: 2 });
  });

  it("says passkey_unavailable where the runtime has no WebAuthn", async () => {
    const client = new TurKeyClient(options());
    const error = await caught(client.loginWithPasskey());
    expect(error).toBeInstanceOf(TurKeyError);
    expect((error as TurKeyError).code).toBe("passkey_unavailable");
  });
});
