/**
 * Mail carries no attacker-chosen text, pre-registration cannot hijack an address, and the
 * mail-sending endpoints answer before any per-account work.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import {
  client,
  createTestApp,
  errorCode,
  manualClock,
  PASSWORD,
  type Tokens,
  uniqueEmail,
} from "./support/fixtures";
import { mailedToken } from "./support/sdk";
import { bindings, postJson, send } from "./support/worker";

const clock = manualClock();
const app = createApp({ clock: clock.now });
const VERIFY_FIRST = { REQUIRE_EMAIL_VERIFICATION: "true" };
let appId: string;

beforeAll(async () => {
  appId = await createTestApp("mail-safety");
});

const post = (path: string, body: unknown, overrides: Record<string, unknown> = {}) =>
  send(app, path, postJson(body, { "x-app-id": appId }), overrides);

async function mailsTo(email: string): Promise<{ subject: string; text: string; html: string }[]> {
  const url = `${String(bindings.MAILGUN_API_BASE)}/recorded?to=${encodeURIComponent(email)}`;
  return (await (await fetch(url)).json()) as { subject: string; text: string; html: string }[];
}

describe("mail to an address nobody has confirmed", () => {
  it("carries no text the registrant chose", async () => {
    const email = uniqueEmail();
    const name = "Prize desk: visit evil.example";
    expect((await post("/v1/auth/register", { email, password: PASSWORD, name })).status).toBe(201);
    await post("/v1/auth/forgot-password", { email });
    const mails = await mailsTo(email);
    expect(mails).toHaveLength(2);
    for (const mail of mails) {
      for (const part of [mail.subject, mail.text, mail.html]) expect(part).not.toContain("evil.example");
    }
  });

  it("says what to do if you did not sign up, whether or not the account is usable unconfirmed", async () => {
    for (const overrides of [{}, VERIFY_FIRST]) {
      const email = uniqueEmail();
      await post("/v1/auth/register", { email, password: PASSWORD }, overrides);
      const [mail] = await mailsTo(email);
      expect(mail?.text).toContain("If you did not sign up");
    }
  });
});

describe("name", () => {
  it("is one line of at most 100 printable characters", async () => {
    const refused = ["two\nlines", "bell\u0007", "right-to-left \u202Eoverride", "x".repeat(101)];
    for (const name of refused) {
      const response = await post("/v1/auth/register", { email: uniqueEmail(), password: PASSWORD, name });
      expect(await errorCode(response.clone())).toBe("validation_failed");
      expect(((await response.json()) as { error: { field: string } }).error.field).toBe("name");
    }
    const fine = await post("/v1/auth/register", {
      email: uniqueEmail(),
      password: PASSWORD,
      name: `Zoë 🦃 ${"x".repeat(92)}`,
    });
    expect(fine.status).toBe(201);
  });
});

describe("someone registering your address before you", () => {
  it("with verification required: your registration replaces theirs, and only your mailbox completes it", async () => {
    const email = uniqueEmail();
    const theirs = await post(
      "/v1/auth/register",
      { email, password: "the squatter's password" },
      VERIFY_FIRST,
    );
    expect(theirs.status).toBe(201);
    const squatterLink = await mailedToken(email, "verify-email");

    clock.advance(61); // past the one-mail-a-minute throttle
    const yours = await post("/v1/auth/register", { email, password: PASSWORD }, VERIFY_FIRST);
    const fresh = await post("/v1/auth/register", { email: uniqueEmail(), password: PASSWORD }, VERIFY_FIRST);
    expect(yours.status).toBe(fresh.status);
    const [yourBody, freshBody] = (await Promise.all([yours.json(), fresh.json()])) as Record<
      string,
      unknown
    >[];
    expect(Object.keys(yourBody ?? {}).sort()).toEqual(Object.keys(freshBody ?? {}).sort());
    expect(yourBody).toMatchObject({ verificationRequired: true, user: { email, emailVerified: false } });

    expect(await errorCode(await post("/v1/auth/verify-email", { token: squatterLink }, VERIFY_FIRST))).toBe(
      "invalid_token",
    );
    const yourLink = await mailedToken(email, "verify-email");
    expect((await post("/v1/auth/verify-email", { token: yourLink }, VERIFY_FIRST)).status).toBe(200);
    const login = (password: string) => post("/v1/auth/login", { email, password }, VERIFY_FIRST);
    expect(await errorCode(await login("the squatter's password"))).toBe("invalid_credentials");
    expect((await login(PASSWORD)).status).toBe(200);
  });

  it("with verification not required: the address stays taken, and a password reset reclaims it", async () => {
    const email = uniqueEmail();
    const squatter = await client(app, appId).register(email, "the squatter's password");
    expect(await errorCode(await post("/v1/auth/register", { email, password: PASSWORD }))).toBe(
      "email_taken",
    );

    await post("/v1/auth/forgot-password", { email });
    const token = await mailedToken(email, "reset-password");
    const reset = await post("/v1/auth/reset-password", { token, password: PASSWORD });
    expect(((await reset.json()) as { user: { emailVerified: boolean } }).user.emailVerified).toBe(true);
    expect((await post("/v1/auth/refresh", { refreshToken: squatter.refreshToken })).status).toBe(401);
    expect((await client(app, appId).get("/v1/auth/me", squatter.accessToken)).status).toBe(401);
    const login = (password: string) => post("/v1/auth/login", { email, password });
    expect(await errorCode(await login("the squatter's password"))).toBe("invalid_credentials");
    expect(((await (await login(PASSWORD)).json()) as Tokens).user.email).toBe(email);
  });
});

describe("forgot-password and resend-verification", () => {
  it("answer before any per-account work, so known and unknown addresses look alike", async () => {
    const known = uniqueEmail();
    await post("/v1/auth/register", { email: known, password: PASSWORD });
    clock.advance(61);
    for (const path of ["/v1/auth/forgot-password", "/v1/auth/resend-verification"]) {
      const before: Record<string, string[]> = {};
      for (const email of [known, uniqueEmail()]) {
        const statements: string[] = [];
        const counted = createApp({ clock: clock.now, onQuery: (sql) => statements.push(sql) });
        await send(counted, "/health"); // the app registry is warm in a real isolate too
        statements.length = 0;
        const ctx = createExecutionContext();
        const response = await counted.request(
          path,
          postJson({ email }, { "x-app-id": appId }),
          bindings,
          ctx,
        );
        expect(response.status).toBe(202);
        before[email === known ? "known" : "unknown"] = statements.filter((sql) => !/from "apps"/.test(sql));
        await waitOnExecutionContext(ctx);
      }
      expect(before.known).toEqual(before.unknown);
      for (const sql of before.known ?? []) expect(sql).not.toMatch(/email_tokens|insert into audit/);
    }
    const subjects = (await mailsTo(known)).map((mail) => mail.subject);
    expect(subjects.some((subject) => subject.startsWith("Reset your password"))).toBe(true);
  });
});
