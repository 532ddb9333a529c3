/**
 * Second factors: TOTP as RFC 6238 defines it (checked against the RFC's vectors and against
 * the independent `otpauth` library), replays refused, ±1 step of skew and no more, recovery
 * codes single-use, at most 5 guesses per mfaToken even in parallel, wrong codes counted by
 * the account's lockout, enrolment ending other sessions, no plaintext secret in the database,
 * and nothing of one app working in another.
 */
import { decodeJwt } from "jose";
import * as OTPAuth from "otpauth";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { hotp, timeStep } from "../src/mfa/totp";
import { forgetRevocations } from "../src/revocation";
import { admin, basic, createAppKey } from "./support/app-keys";
import {
  client,
  createTestApp,
  errorCode,
  manualClock,
  PASSWORD,
  type Tokens,
  uniqueEmail,
} from "./support/fixtures";
import { openTestDatabase, postJson, send } from "./support/worker";

const clock = manualClock(new Date());
const app = createApp({ clock: clock.now });
let appId: string;
let otherAppId: string;

beforeAll(async () => {
  appId = await createTestApp("mfa");
  otherAppId = await createTestApp("mfa-other");
});

const api = (id = appId) => client(app, id);

interface Enrolled {
  email: string;
  tokens: Tokens;
  totp: OTPAuth.TOTP;
  secret: string;
  recoveryCodes: string[];
}

/** The code an authenticator app would show `offsetSeconds` from the test clock's now. */
const codeAt = (totp: OTPAuth.TOTP, offsetSeconds = 0) =>
  totp.generate({ timestamp: clock.now().getTime() + offsetSeconds * 1000 });

async function enrol(id = appId): Promise<Enrolled> {
  const email = uniqueEmail();
  const tokens = await api(id).register(email);
  const started = await api(id).post("/v1/auth/mfa/totp/enroll", {}, tokens.accessToken);
  expect(started.status).toBe(200);
  const { secret, otpauthUrl } = (await started.json()) as { secret: string; otpauthUrl: string };
  const totp = OTPAuth.URI.parse(otpauthUrl) as OTPAuth.TOTP;
  const confirmed = await api(id).post(
    "/v1/auth/mfa/totp/confirm",
    { code: codeAt(totp) },
    tokens.accessToken,
  );
  expect(confirmed.status).toBe(200);
  const { recoveryCodes } = (await confirmed.json()) as { recoveryCodes: string[] };
  // The confirming code's step is spent: later codes come from the next step.
  clock.advance(30);
  return { email, tokens, totp, secret, recoveryCodes };
}

async function mfaToken(email: string, id = appId): Promise<string> {
  const response = await api(id).post("/v1/auth/login", { email, password: PASSWORD });
  expect(response.status).toBe(200);
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toEqual({
    mfaRequired: true,
    mfaToken: expect.any(String),
    methods: ["totp", "recovery_code"],
  });
  return String(body.mfaToken);
}

const verify = (body: Record<string, unknown>, overrides: Record<string, unknown> = {}, id = appId) =>
  send(app, "/v1/auth/mfa/verify", postJson(body, { "x-app-id": id }), overrides);

describe("TOTP codes", () => {
  it("match the RFC 6238 SHA-1 test vectors (last 6 digits)", () => {
    const secret = new TextEncoder().encode("12345678901234567890");
    const vectors: [number, string][] = [
      [59, "94287082"],
      [1111111109, "07081804"],
      [1111111111, "14050471"],
      [1234567890, "89005924"],
      [2000000000, "69279037"],
      [20000000000, "65353130"],
    ];
    for (const [seconds, code] of vectors) expect(hotp(secret, timeStep(seconds * 1000))).toBe(code.slice(2));
  });

  it("match the otpauth library for the secret and URI Turkey hands out", async () => {
    const tokens = await api().register();
    const started = await api().post("/v1/auth/mfa/totp/enroll", {}, tokens.accessToken);
    const { secret, otpauthUrl } = (await started.json()) as { secret: string; otpauthUrl: string };
    const totp = OTPAuth.URI.parse(otpauthUrl) as OTPAuth.TOTP;
    expect(totp).toBeInstanceOf(OTPAuth.TOTP);
    expect(totp.issuer).toBe(`Test ${appId}`);
    expect(totp.label).toBe(tokens.user.email);
    expect([totp.algorithm, totp.digits, totp.period]).toEqual(["SHA1", 6, 30]);
    const bytes = new Uint8Array(OTPAuth.Secret.fromBase32(secret).buffer);
    for (let step = 0; step < 50; step++) {
      const at = clock.now().getTime() + step * 30_000;
      expect(hotp(bytes, timeStep(at))).toBe(totp.generate({ timestamp: at }));
    }
  });
});

describe("enrolment", () => {
  it("stays pending until confirmed, refuses a wrong code, then ends the user's other sessions", async () => {
    const email = uniqueEmail();
    const tokens = await api().register(email);
    const other = await api().login(email);
    const started = await api().post("/v1/auth/mfa/totp/enroll", {}, tokens.accessToken);
    const totp = OTPAuth.URI.parse(
      ((await started.json()) as { otpauthUrl: string }).otpauthUrl,
    ) as OTPAuth.TOTP;
    // Pending: a password login still gets tokens.
    expect((await api().login(email)).accessToken).toBeTruthy();
    const wrong = await api().post("/v1/auth/mfa/totp/confirm", { code: "000000" }, tokens.accessToken);
    expect(wrong.status).toBe(400);
    expect(await errorCode(wrong)).toBe("invalid_mfa_code");

    const confirmed = await api().post(
      "/v1/auth/mfa/totp/confirm",
      { code: codeAt(totp) },
      tokens.accessToken,
    );
    expect(confirmed.status).toBe(200);
    const { recoveryCodes } = (await confirmed.json()) as { recoveryCodes: string[] };
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    forgetRevocations();
    expect((await api().get("/v1/auth/me", other.accessToken)).status).toBe(401);
    expect((await api().post("/v1/auth/refresh", { refreshToken: other.refreshToken })).status).toBe(401);
    expect((await api().get("/v1/auth/me", tokens.accessToken)).status).toBe(200);

    const again = await api().post("/v1/auth/mfa/totp/enroll", {}, tokens.accessToken);
    expect(again.status).toBe(409);
    expect(await errorCode(again)).toBe("mfa_already_enabled");
    const listed = await api().get("/v1/auth/mfa", tokens.accessToken);
    expect(await listed.json()).toMatchObject({ factors: [{ kind: "totp" }], recoveryCodesLeft: 10 });
  });

  it("keeps no plaintext secret, recovery code or mfaToken in the database", async () => {
    const { email, secret, recoveryCodes, tokens } = await enrol();
    const token = await mfaToken(email);
    const handle = openTestDatabase();
    try {
      const dump = JSON.stringify(
        await Promise.all(
          ["mfa_factors", "recovery_codes", "mfa_challenges"].map(async (table) => {
            const result = await handle.db.execute(
              `select * from ${table} where user_id = '${tokens.user.id}'` as unknown as never,
            );
            return result.rows;
          }),
        ),
      ).toLowerCase();
      const raw = new Uint8Array(OTPAuth.Secret.fromBase32(secret).buffer);
      const hex = [...raw].map((byte) => byte.toString(16).padStart(2, "0")).join("");
      expect(dump).toContain("v1."); // the sealed secret is there
      for (const plain of [secret.toLowerCase(), hex, token.toLowerCase(), ...recoveryCodes]) {
        expect(dump).not.toContain(plain);
      }
      for (const code of recoveryCodes) expect(dump).not.toContain(code.replaceAll("-", ""));
    } finally {
      await handle.close();
    }
  });
});

describe("signing in with a second factor", () => {
  it("answers mfaRequired without tokens, then a session with amr [pwd, otp] and aal 2 that refresh keeps", async () => {
    const { email, totp } = await enrol();
    const token = await mfaToken(email);
    const response = await verify({ mfaToken: token, code: codeAt(totp) });
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as Tokens;
    expect(decodeJwt(tokens.accessToken)).toMatchObject({ amr: ["pwd", "otp"], aal: 2 });
    const introspected = await api().post("/v1/auth/introspect", { token: tokens.accessToken });
    expect(await introspected.json()).toMatchObject({ active: true, amr: ["pwd", "otp"], aal: 2 });
    const refreshed = await api().post("/v1/auth/refresh", { refreshToken: tokens.refreshToken });
    const next = (await refreshed.json()) as Tokens;
    expect(decodeJwt(next.accessToken)).toMatchObject({ amr: ["pwd", "otp"], aal: 2 });
    // Single-use.
    const reused = await verify({ mfaToken: token, code: codeAt(totp, 30) });
    expect(await errorCode(reused)).toBe("mfa_token_invalid");
  });

  it("answers amr and aal in RFC 7662 introspection with an app key", async () => {
    const { email, totp } = await enrol();
    const response = await verify({ mfaToken: await mfaToken(email), code: codeAt(totp) });
    const tokens = (await response.json()) as Tokens;
    const { key } = await createAppKey(appId);
    const introspected = await send(app, "/v1/auth/introspect", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(appId, key) },
      body: new URLSearchParams({ token: tokens.accessToken }),
    });
    expect(await introspected.json()).toMatchObject({
      active: true,
      client_id: appId,
      amr: ["pwd", "otp"],
      aal: 2,
    });
  });

  it("answers account_disabled when an operator disabled the user between password and code", async () => {
    const { email, tokens, totp } = await enrol();
    const token = await mfaToken(email);
    const { key } = await createAppKey(appId);
    const disabled = await admin(app, key).post(`/users/${decodeJwt(tokens.accessToken).sub}/disable`);
    expect(disabled.status).toBe(200);
    const response = await verify({ mfaToken: token, code: codeAt(totp) });
    expect(await errorCode(response)).toBe("account_disabled");
  });

  it("deleting the user deletes its factors, recovery codes and pending sign-ins", async () => {
    const { email, tokens } = await enrol();
    await mfaToken(email);
    const { key } = await createAppKey(appId);
    const deleted = await admin(app, key).delete(`/users/${tokens.user.id}`);
    expect(deleted.status).toBeLessThan(300);
    const handle = openTestDatabase();
    try {
      for (const table of ["mfa_factors", "recovery_codes", "mfa_challenges"]) {
        const left = await handle.db.execute(
          `select count(*)::int as n from ${table} where user_id = '${tokens.user.id}'` as unknown as never,
        );
        expect(left.rows[0]).toEqual({ n: 0 });
      }
    } finally {
      await handle.close();
    }
  });

  it("refuses a replayed code, even when parallel requests present it together", async () => {
    const { email, totp } = await enrol();
    const code = codeAt(totp);
    const tokens = await Promise.all([1, 2, 3, 4].map(() => mfaToken(email)));
    const answers = await Promise.all(tokens.map((token) => verify({ mfaToken: token, code })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400, 400, 400]);
    const later = await verify({ mfaToken: await mfaToken(email), code });
    expect(await errorCode(later)).toBe("invalid_mfa_code");
  });

  it("accepts one step of clock skew either way, and refuses two", async () => {
    for (const [offset, status] of [
      [-30, 200],
      [30, 200],
      [-60, 400],
      [60, 400],
    ] as const) {
      const { email, totp } = await enrol();
      clock.advance(90); // the confirming step is well in the past
      const response = await verify({ mfaToken: await mfaToken(email), code: codeAt(totp, offset) });
      expect({ offset, status: response.status }).toEqual({ offset, status });
    }
  });

  it("takes each recovery code once, typed in any case", async () => {
    const { email, recoveryCodes } = await enrol();
    const [first = "", second = ""] = recoveryCodes;
    const ok = await verify({ mfaToken: await mfaToken(email), recoveryCode: first.toUpperCase() });
    expect(ok.status).toBe(200);
    expect(decodeJwt(((await ok.json()) as Tokens).accessToken)).toMatchObject({ aal: 2 });
    const again = await verify({ mfaToken: await mfaToken(email), recoveryCode: first });
    expect(await errorCode(again)).toBe("invalid_mfa_code");
    expect((await verify({ mfaToken: await mfaToken(email), recoveryCode: second })).status).toBe(200);
    const { tokens } = await enrol(); // a fresh user; its list shows 10 left
    const listed = await api().get("/v1/auth/mfa", tokens.accessToken);
    expect(((await listed.json()) as { recoveryCodesLeft: number }).recoveryCodesLeft).toBe(10);
  });

  it("checks at most 5 codes per mfaToken, even when 12 arrive at once", async () => {
    const { email, totp } = await enrol();
    const token = await mfaToken(email);
    // A high lockout threshold, so only the per-token bound is at work.
    const generous = { LOGIN_LOCKOUT_THRESHOLD: "100" };
    const wrong = Array.from({ length: 12 }, (_, i) => String(100000 + i));
    const answers = await Promise.all(wrong.map((code) => verify({ mfaToken: token, code }, generous)));
    const codes = await Promise.all(answers.map(errorCode));
    expect(codes.filter((code) => code === "invalid_mfa_code")).toHaveLength(5);
    expect(codes.filter((code) => code === "mfa_token_invalid")).toHaveLength(7);
    const right = await verify({ mfaToken: token, code: codeAt(totp) }, generous);
    expect(await errorCode(right)).toBe("mfa_token_invalid");
  });

  it("counts wrong codes towards the account's lockout", async () => {
    const { email, totp } = await enrol();
    for (let i = 0; i < 5; i++) {
      const answer = await verify({ mfaToken: await mfaToken(email), code: "000000" });
      expect(await errorCode(answer)).toBe("invalid_mfa_code");
    }
    const locked = await api().post("/v1/auth/login", { email, password: PASSWORD });
    expect(locked.status).toBe(429);
    expect(await errorCode(locked)).toBe("too_many_attempts");
    clock.advance(16 * 60); // past the longest lock
    expect((await verify({ mfaToken: await mfaToken(email), code: codeAt(totp) })).status).toBe(200);
  });

  it("voids a pending sign-in when the password changes meanwhile", async () => {
    const { email, totp, tokens } = await enrol();
    const token = await mfaToken(email);
    const changed = await api().post(
      "/v1/auth/change-password",
      { currentPassword: PASSWORD, newPassword: "another long passphrase" },
      tokens.accessToken,
    );
    expect(changed.status).toBe(200);
    expect(await errorCode(await verify({ mfaToken: token, code: codeAt(totp) }))).toBe("mfa_token_invalid");
  });
});

describe("removing TOTP", () => {
  const remove = (token: string, body: Record<string, unknown>) =>
    send(app, "/v1/auth/mfa/totp", {
      method: "DELETE",
      headers: { "x-app-id": appId, authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("needs the password and a code, then password sign-in is enough again", async () => {
    const { email, totp, tokens } = await enrol();
    expect(
      await errorCode(await remove(tokens.accessToken, { password: "wrong password!", code: codeAt(totp) })),
    ).toBe("invalid_credentials");
    expect(await errorCode(await remove(tokens.accessToken, { password: PASSWORD, code: "000000" }))).toBe(
      "invalid_mfa_code",
    );
    expect((await remove(tokens.accessToken, { password: PASSWORD, code: codeAt(totp) })).status).toBe(204);
    expect((await api().login(email)).accessToken).toBeTruthy();
    const gone = await remove(tokens.accessToken, { password: PASSWORD, code: codeAt(totp, 30) });
    expect(await errorCode(gone)).toBe("mfa_not_enrolled");
  });
});

describe("another app", () => {
  it("takes neither the mfaToken, nor the access token, nor the factor of this app", async () => {
    const { email, totp, tokens } = await enrol();
    const token = await mfaToken(email);
    expect(await errorCode(await verify({ mfaToken: token, code: codeAt(totp) }, {}, otherAppId))).toBe(
      "mfa_token_invalid",
    );
    const enrolThere = await api(otherAppId).post("/v1/auth/mfa/totp/enroll", {}, tokens.accessToken);
    expect(await errorCode(enrolThere)).toBe("token_invalid");
    // The same email in the other app is another account, without a second factor.
    await api(otherAppId).register(email);
    expect((await api(otherAppId).login(email)).accessToken).toBeTruthy();
    // The token still works where it belongs.
    expect((await verify({ mfaToken: token, code: codeAt(totp) })).status).toBe(200);
  });
});
