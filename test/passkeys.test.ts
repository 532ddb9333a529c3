/**
 * Passkeys with real WebAuthn bytes from a software authenticator (test/support/webauthn.ts):
 * adding one, passwordless sign-in (discoverable and by email), the checks that refuse a
 * response (origin, RP ID, challenge reuse, another app's challenge or credential, a counter
 * that does not rise), single use under parallel requests, no account enumeration by email,
 * a passkey as the second step after a password, and removal.
 */
import { sql } from "drizzle-orm";
import { decodeJwt } from "jose";
import * as OTPAuth from "otpauth";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { relyingParty } from "../src/passkeys/relying-party";
import {
  client,
  createTestApp,
  errorCode,
  manualClock,
  PASSWORD,
  type Tokens,
  uniqueEmail,
} from "./support/fixtures";
import { type CreationOptions, type RequestOptions, SoftwareAuthenticator } from "./support/webauthn";
import { openTestDatabase, postJson, send } from "./support/worker";

const clock = manualClock(new Date());
const app = createApp({ clock: clock.now });
let appId: string;
let otherAppId: string;

beforeAll(async () => {
  appId = await createTestApp("passkeys");
  otherAppId = await createTestApp("passkeys-other");
});

const api = (id = appId) => client(app, id);
const originOf = (id: string) => `https://${id}.example.com`;

interface Registered {
  email: string;
  tokens: Tokens;
  authenticator: SoftwareAuthenticator;
  passkeyId: string;
}

async function creationOptions(accessToken: string, id = appId): Promise<CreationOptions> {
  const response = await api(id).post("/v1/auth/passkeys/register/options", {}, accessToken);
  expect(response.status).toBe(200);
  return (await response.json()) as CreationOptions;
}

async function register(
  options: { id?: string; synced?: boolean; userVerified?: boolean; email?: string } = {},
): Promise<Registered> {
  const id = options.id ?? appId;
  const email = options.email ?? uniqueEmail();
  const tokens = await api(id).register(email);
  const authenticator = new SoftwareAuthenticator(originOf(id), options);
  const created = await authenticator.create(await creationOptions(tokens.accessToken, id));
  const verified = await api(id).post(
    "/v1/auth/passkeys/register/verify",
    { response: created, name: "Laptop" },
    tokens.accessToken,
  );
  expect(verified.status).toBe(201);
  const passkey = (await verified.json()) as { id: string };
  return { email, tokens, authenticator, passkeyId: passkey.id };
}

async function loginOptions(body: Record<string, unknown> = {}, id = appId): Promise<RequestOptions> {
  const response = await api(id).post("/v1/auth/passkeys/login/options", body);
  expect(response.status).toBe(200);
  return (await response.json()) as RequestOptions;
}

const loginVerify = (response: unknown, id = appId) =>
  api(id).post("/v1/auth/passkeys/login/verify", { response });

async function auditReasons(userId: string, event: string): Promise<string[]> {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute(sql`
      select details->>'reason' as reason from audit where user_id = ${userId}::uuid and event = ${event}`);
    // Sorted: rows written at one instant of the test clock have no order of their own.
    return result.rows.map((row) => String(row.reason)).sort();
  } finally {
    await handle.close();
  }
}

describe("the relying party of an app", () => {
  it("is the registrable domain of its URL, with the origins under it", () => {
    const allowed = ["https://www.example.co.uk", "https://example.co.uk", "https://evil.co.uk", "not a url"];
    expect(relyingParty({ name: "Shop", url: "https://app.example.co.uk/start" }, allowed)).toEqual({
      id: "example.co.uk",
      name: "Shop",
      origins: ["https://app.example.co.uk", "https://www.example.co.uk", "https://example.co.uk"],
    });
    // A private suffix is a suffix too: browsers refuse "github.io" as an RP ID.
    expect(relyingParty({ name: "Pages", url: "https://ada.github.io" }, []).id).toBe("ada.github.io");
    expect(relyingParty({ name: "Local", url: "http://localhost:5173" }, []).id).toBe("localhost");
    expect(relyingParty({ name: "Ip", url: "http://127.0.0.1:8080" }, []).id).toBe("127.0.0.1");
  });
});

describe("adding a passkey", () => {
  it("offers the app's RP ID and name, excludes the user's passkeys, and stores the new one", async () => {
    const { tokens, authenticator, passkeyId } = await register();
    const options = (await creationOptions(tokens.accessToken)) as CreationOptions & {
      excludeCredentials: { id: string }[];
      rp: { id: string; name: string };
    };
    expect(options.rp).toEqual({ id: "example.com", name: `Test ${appId}` });
    expect(options.excludeCredentials.map((c) => c.id)).toEqual([authenticator.credentials[0]?.id]);

    const listed = await api().get("/v1/auth/passkeys", tokens.accessToken);
    expect(await listed.json()).toEqual({
      passkeys: [
        {
          id: passkeyId,
          name: "Laptop",
          createdAt: expect.any(String),
          lastUsedAt: null,
          deviceType: "singleDevice",
          backedUp: false,
        },
      ],
    });
  });

  it("refuses a response from another origin, for another RP ID, or to a used challenge", async () => {
    const tokens = await api().register();
    const authenticator = new SoftwareAuthenticator(originOf(appId));
    const verify = (response: unknown) =>
      api().post("/v1/auth/passkeys/register/verify", { response }, tokens.accessToken);

    const evil = await authenticator.create(await creationOptions(tokens.accessToken), {
      origin: "https://evil.example.net",
    });
    expect(await errorCode(await verify(evil))).toBe("passkey_invalid");
    const wrongRp = await authenticator.create(await creationOptions(tokens.accessToken), {
      rpId: "evil.example.net",
    });
    expect(await errorCode(await verify(wrongRp))).toBe("passkey_invalid");

    const good = await authenticator.create(await creationOptions(tokens.accessToken));
    expect((await verify(good)).status).toBe(201);
    expect(await errorCode(await verify(good))).toBe("passkey_invalid");
    expect(await auditReasons(tokens.user.id, "passkey_failed")).toEqual([
      "challenge",
      "verification_failed",
      "verification_failed",
    ]);
  });

  it("stores one passkey when the same response arrives in parallel", async () => {
    const tokens = await api().register();
    const authenticator = new SoftwareAuthenticator(originOf(appId));
    const created = await authenticator.create(await creationOptions(tokens.accessToken));
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        api().post("/v1/auth/passkeys/register/verify", { response: created }, tokens.accessToken),
      ),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 400, 400, 400]);
    const listed = (await (await api().get("/v1/auth/passkeys", tokens.accessToken)).json()) as {
      passkeys: unknown[];
    };
    expect(listed.passkeys).toHaveLength(1);
  });

  it("refuses another user's challenge and an expired one", async () => {
    const ada = await api().register();
    const bob = await api().register();
    const authenticator = new SoftwareAuthenticator(originOf(appId));
    const forAda = await authenticator.create(await creationOptions(ada.accessToken));
    const asBob = await api().post(
      "/v1/auth/passkeys/register/verify",
      { response: forAda },
      bob.accessToken,
    );
    expect(await errorCode(asBob)).toBe("passkey_invalid");

    const late = await authenticator.create(await creationOptions(ada.accessToken));
    clock.advance(301);
    const expired = await api().post(
      "/v1/auth/passkeys/register/verify",
      { response: late },
      ada.accessToken,
    );
    expect(await errorCode(expired)).toBe("passkey_invalid");
  });
});

describe("passwordless sign-in", () => {
  it("signs in with a discoverable device-bound passkey: amr hwk, aal 2 with user verification", async () => {
    const { tokens, authenticator } = await register();
    const options = await loginOptions();
    expect(options.allowCredentials).toEqual([]);
    const response = await loginVerify(await authenticator.get(options));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Tokens;
    expect(body.user.id).toBe(tokens.user.id);
    expect(decodeJwt(body.accessToken)).toMatchObject({ amr: ["hwk"], aal: 2, sub: tokens.user.id });
    const listed = (await (await api().get("/v1/auth/passkeys", body.accessToken)).json()) as {
      passkeys: { lastUsedAt: string | null }[];
    };
    expect(listed.passkeys[0]?.lastUsedAt).toBe(clock.now().toISOString());
  });

  it("says swk for a synced passkey, and aal 1 without user verification", async () => {
    const synced = await register({ synced: true });
    const first = await loginVerify(
      await synced.authenticator.get(await loginOptions({ email: synced.email })),
    );
    expect(decodeJwt(((await first.json()) as Tokens).accessToken)).toMatchObject({ amr: ["swk"], aal: 2 });

    const presence = await register({ userVerified: false });
    const second = await loginVerify(
      await presence.authenticator.get(await loginOptions({ email: presence.email })),
    );
    expect(decodeJwt(((await second.json()) as Tokens).accessToken)).toMatchObject({ amr: ["hwk"], aal: 1 });
  });

  it("names the user's passkeys for an email, and answers an unknown email alike, the same every time", async () => {
    const { email, authenticator } = await register();
    const known = await loginOptions({ email });
    expect(known.allowCredentials).toEqual([
      { id: authenticator.credentials[0]?.id, type: "public-key", transports: ["hybrid", "internal"] },
    ]);

    const stranger = uniqueEmail();
    const unknown = await loginOptions({ email: stranger });
    const again = await loginOptions({ email: stranger.toUpperCase() });
    const withoutPasskey = await loginOptions({ email: (await api().register()).user.email });
    for (const options of [unknown, withoutPasskey]) {
      expect(Object.keys(options).sort()).toEqual(Object.keys(known).sort());
      expect(options.allowCredentials).toEqual([
        { id: expect.stringMatching(/^[\w-]{43}$/), type: "public-key", transports: ["hybrid", "internal"] },
      ]);
    }
    expect(again.allowCredentials).toEqual(unknown.allowCredentials);
    expect(withoutPasskey.allowCredentials).not.toEqual(unknown.allowCredentials);
    expect(again.challenge).not.toBe(unknown.challenge);
  });

  it("refuses a wrong origin, a wrong RP ID, a replayed challenge and an expired one", async () => {
    const { tokens, authenticator } = await register();
    const wrongOrigin = await authenticator.get(await loginOptions(), { origin: "https://evil.example.net" });
    expect(await errorCode(await loginVerify(wrongOrigin))).toBe("passkey_invalid");
    const wrongRp = await authenticator.get(await loginOptions(), { rpId: "evil.example.net" });
    expect(await errorCode(await loginVerify(wrongRp))).toBe("passkey_invalid");

    const good = await authenticator.get(await loginOptions());
    expect((await loginVerify(good)).status).toBe(200);
    expect(await errorCode(await loginVerify(good))).toBe("passkey_invalid");

    const late = await authenticator.get(await loginOptions());
    clock.advance(301);
    expect(await errorCode(await loginVerify(late))).toBe("passkey_invalid");
    expect(await auditReasons(tokens.user.id, "passkey_failed")).toEqual([
      "verification_failed",
      "verification_failed",
    ]);
  });

  it("accepts an origin of ALLOWED_ORIGINS under the RP ID, and no other", async () => {
    const { authenticator } = await register();
    const under = `https://www.${appId}.example.com`;
    const elsewhere = "https://other.example.org";
    const overrides = { ALLOWED_ORIGINS: `${under},${elsewhere}` };
    const verifyWith = (response: unknown) =>
      send(app, "/v1/auth/passkeys/login/verify", postJson({ response }, { "x-app-id": appId }), overrides);
    const ok = await verifyWith(await authenticator.get(await loginOptions(), { origin: under }));
    expect(ok.status).toBe(200);
    const refused = await verifyWith(await authenticator.get(await loginOptions(), { origin: elsewhere }));
    expect(await errorCode(refused)).toBe("passkey_invalid");
  });

  it("refuses another app's challenge and another app's credential", async () => {
    const { authenticator } = await register();
    const otherOptions = await loginOptions({}, otherAppId);
    const signed = await authenticator.get(otherOptions);
    // This app's credential, the other app's challenge: refused here and there.
    expect(await errorCode(await loginVerify(signed))).toBe("passkey_invalid");
    const crossApp = await authenticator.get(await loginOptions({}, otherAppId), {
      origin: originOf(otherAppId),
    });
    expect(await errorCode(await loginVerify(crossApp, otherAppId))).toBe("passkey_invalid");
  });

  it("lets exactly one of parallel requests with the same response sign in", async () => {
    const { authenticator } = await register();
    const response = await authenticator.get(await loginOptions());
    const answers = await Promise.all(Array.from({ length: 5 }, () => loginVerify(response)));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 400, 400, 400, 400]);
  });

  it("refuses, and audits, a signature whose counter does not rise", async () => {
    const { tokens, authenticator } = await register();
    expect((await loginVerify(await authenticator.get(await loginOptions(), { counter: 5 }))).status).toBe(
      200,
    );
    const cloned = await authenticator.get(await loginOptions(), { counter: 5 });
    expect(await errorCode(await loginVerify(cloned))).toBe("passkey_invalid");
    const lower = await authenticator.get(await loginOptions(), { counter: 3 });
    expect(await errorCode(await loginVerify(lower))).toBe("passkey_invalid");
    expect(await auditReasons(tokens.user.id, "passkey_failed")).toEqual([
      "counter_regressed",
      "counter_regressed",
    ]);
    expect((await loginVerify(await authenticator.get(await loginOptions(), { counter: 6 }))).status).toBe(
      200,
    );
  });

  it("refuses a disabled account", async () => {
    const { tokens, authenticator } = await register();
    const handle = openTestDatabase();
    try {
      await handle.db.execute(sql`update users set disabled_at = now() where id = ${tokens.user.id}::uuid`);
    } finally {
      await handle.close();
    }
    expect(await errorCode(await loginVerify(await authenticator.get(await loginOptions())))).toBe(
      "account_disabled",
    );
  });
});

describe("a passkey as the second factor", () => {
  async function withTotp(registered: Registered): Promise<OTPAuth.TOTP> {
    const { tokens } = registered;
    const started = await api().post("/v1/auth/mfa/totp/enroll", {}, tokens.accessToken);
    const { otpauthUrl } = (await started.json()) as { otpauthUrl: string };
    const totp = OTPAuth.URI.parse(otpauthUrl) as OTPAuth.TOTP;
    const code = totp.generate({ timestamp: clock.now().getTime() });
    const confirmed = await api().post("/v1/auth/mfa/totp/confirm", { code }, tokens.accessToken);
    expect(confirmed.status).toBe(200);
    return totp;
  }

  async function mfaToken(email: string): Promise<{ mfaToken: string; methods: string[] }> {
    const response = await api().post("/v1/auth/login", { email, password: PASSWORD });
    expect(response.status).toBe(200);
    return (await response.json()) as { mfaToken: string; methods: string[] };
  }

  const mfaOptions = async (token: string) => {
    const response = await api().post("/v1/auth/mfa/passkey/options", { mfaToken: token });
    expect(response.status).toBe(200);
    return (await response.json()) as RequestOptions;
  };

  it("completes a password sign-in: amr pwd + hwk, aal 2", async () => {
    const registered = await register();
    await withTotp(registered);
    const pending = await mfaToken(registered.email);
    expect(pending.methods).toEqual(["totp", "recovery_code", "passkey"]);
    const options = await mfaOptions(pending.mfaToken);
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([registered.authenticator.credentials[0]?.id]);
    const signed = await registered.authenticator.get(options);
    const verified = await api().post("/v1/auth/mfa/verify", { mfaToken: pending.mfaToken, passkey: signed });
    expect(verified.status).toBe(200);
    const body = (await verified.json()) as Tokens;
    expect(decodeJwt(body.accessToken)).toMatchObject({ amr: ["pwd", "hwk"], aal: 2 });
    // The mfaToken is spent.
    const again = await api().post("/v1/auth/mfa/verify", { mfaToken: pending.mfaToken, passkey: signed });
    expect(await errorCode(again)).toBe("mfa_token_invalid");
  });

  it("asks an account with TOTP for it after a passkey without user verification, and not for the passkey again", async () => {
    const presence = await register({ userVerified: false });
    const totp = await withTotp(presence);
    const signed = await presence.authenticator.get(await loginOptions({ email: presence.email }));
    const first = await loginVerify(signed);
    expect(first.status).toBe(200);
    const pending = (await first.json()) as { mfaRequired?: true; mfaToken: string; methods: string[] };
    expect(pending).toMatchObject({ mfaRequired: true, methods: ["totp", "recovery_code"] });
    expect(pending).not.toHaveProperty("accessToken");

    // Possession was the first factor: the same kind of proof cannot be the second.
    const options = await api().post("/v1/auth/mfa/passkey/options", { mfaToken: pending.mfaToken });
    expect(await errorCode(options)).toBe("mfa_not_enrolled");
    const again = await presence.authenticator.get(await loginOptions({ email: presence.email }));
    const reused = await api().post("/v1/auth/mfa/verify", { mfaToken: pending.mfaToken, passkey: again });
    expect(await errorCode(reused)).toBe("passkey_invalid");

    clock.advance(30); // the confirming code's time step is spent
    const code = totp.generate({ timestamp: clock.now().getTime() });
    const verified = await api().post("/v1/auth/mfa/verify", { mfaToken: pending.mfaToken, code });
    expect(verified.status).toBe(200);
    const body = (await verified.json()) as Tokens;
    expect(decodeJwt(body.accessToken)).toMatchObject({ amr: ["hwk", "otp"], aal: 2 });
  });

  it("refuses a passwordless challenge, another user's passkey, and counts each try as a guess", async () => {
    const registered = await register();
    await withTotp(registered);
    const stranger = await register();
    const pending = await mfaToken(registered.email);
    const verify = (passkey: unknown) =>
      api().post("/v1/auth/mfa/verify", { mfaToken: pending.mfaToken, passkey });

    const passwordless = await registered.authenticator.get(await loginOptions({ email: registered.email }));
    expect(await errorCode(await verify(passwordless))).toBe("passkey_invalid");
    const options = await mfaOptions(pending.mfaToken);
    const strangers = await stranger.authenticator.get(options, {}, stranger.authenticator.credentials[0]);
    expect(await errorCode(await verify(strangers))).toBe("passkey_invalid");
    for (let i = 0; i < 3; i++) {
      const wrongRp = await registered.authenticator.get(await mfaOptions(pending.mfaToken), {
        rpId: "evil.test",
      });
      expect(await errorCode(await verify(wrongRp))).toBe("passkey_invalid");
    }
    // Five wrong tries: the mfaToken's guesses are spent and the account is locked for this network.
    const handle = openTestDatabase();
    try {
      const claimed = await handle.db.execute(sql`
        select attempts from mfa_challenges where user_id = ${registered.tokens.user.id}::uuid`);
      expect(claimed.rows).toEqual([{ attempts: 5 }]);
    } finally {
      await handle.close();
    }
    const spent = await api().post("/v1/auth/mfa/passkey/options", { mfaToken: pending.mfaToken });
    expect(await errorCode(spent)).toBe("mfa_token_invalid");
    const again = await api().post("/v1/auth/login", { email: registered.email, password: PASSWORD });
    expect(await errorCode(again)).toBe("too_many_attempts");
  });

  it("answers mfa_not_enrolled for options when the user has no passkey", async () => {
    const email = uniqueEmail();
    const tokens = await api().register(email);
    await withTotp({
      email,
      tokens,
      authenticator: new SoftwareAuthenticator(originOf(appId)),
      passkeyId: "",
    });
    const pending = await mfaToken(email);
    expect(pending.methods).toEqual(["totp", "recovery_code"]);
    const response = await api().post("/v1/auth/mfa/passkey/options", { mfaToken: pending.mfaToken });
    expect(await errorCode(response)).toBe("mfa_not_enrolled");
  });
});

describe("removing a passkey", () => {
  it("deletes the user's own, audited; another user's or app's id is not_found; a removed one signs in no more", async () => {
    const ada = await register();
    const bob = await register();
    const other = await register({ id: otherAppId });
    const del = (id: string, token: string, app_ = appId) => api(app_).del(`/v1/auth/passkeys/${id}`, token);

    expect(await errorCode(await del(bob.passkeyId, ada.tokens.accessToken))).toBe("not_found");
    expect(await errorCode(await del(other.passkeyId, ada.tokens.accessToken))).toBe("not_found");
    expect(await errorCode(await del(crypto.randomUUID(), ada.tokens.accessToken))).toBe("not_found");
    expect((await del(ada.passkeyId, ada.tokens.accessToken)).status).toBe(204);
    expect(await (await api().get("/v1/auth/passkeys", ada.tokens.accessToken)).json()).toEqual({
      passkeys: [],
    });
    expect(await errorCode(await loginVerify(await ada.authenticator.get(await loginOptions())))).toBe(
      "passkey_invalid",
    );

    const handle = openTestDatabase();
    try {
      const events = await handle.db.execute(sql`
        select event, details->>'passkeyId' as passkey from audit
        where user_id = ${ada.tokens.user.id}::uuid and event in ('passkey_registered', 'passkey_deleted')
        order by event desc`);
      expect(events.rows).toEqual([
        { event: "passkey_registered", passkey: ada.passkeyId },
        { event: "passkey_deleted", passkey: ada.passkeyId },
      ]);
    } finally {
      await handle.close();
    }
  });
});

describe("passkeys in the account's other views", () => {
  it("are listed by GET /v1/auth/mfa and exported without their keys, and go with the account", async () => {
    const { tokens, passkeyId } = await register();
    const factors = await api().get("/v1/auth/mfa", tokens.accessToken);
    expect(await factors.json()).toMatchObject({
      factors: [],
      passkeys: [{ id: passkeyId, name: "Laptop" }],
    });

    const exported = await api().get("/v1/auth/account/export", tokens.accessToken);
    const text = await exported.text();
    expect((JSON.parse(text) as { passkeys: { id: string }[] }).passkeys.map((p) => p.id)).toEqual([
      passkeyId,
    ]);
    const handle = openTestDatabase();
    try {
      const stored = await handle.db.execute(sql`
        select credential_id, public_key from passkeys where id = ${passkeyId}::uuid`);
      const row = stored.rows[0] ?? {};
      expect(text).not.toContain(String(row.public_key));
      expect(text).not.toContain(String(row.credential_id));

      const deletion = postJson(
        { password: PASSWORD },
        { "x-app-id": appId, authorization: `Bearer ${tokens.accessToken}` },
      );
      const deleted = await send(app, "/v1/auth/account", { ...deletion, method: "DELETE" });
      expect(deleted.status).toBe(204);
      const left = await handle.db.execute(sql`
        select (select count(*)::int from passkeys where user_id = ${tokens.user.id}::uuid) as passkeys,
          (select count(*)::int from passkey_challenges where user_id = ${tokens.user.id}::uuid) as challenges`);
      expect(left.rows).toEqual([{ passkeys: 0, challenges: 0 }]);
    } finally {
      await handle.close();
    }
  });
});
