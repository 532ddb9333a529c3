import { decodeJwt } from "jose";
/**
 * A mailed sign-in link followed on Turkey's hosted page: the page hands the sign-in back to
 * the browser that asked, by a one-time code in the app's URL and that browser's PKCE verifier
 * (POST /v1/auth/token). Also the deletion code for accounts without a password.
 */
import { calculatePKCECodeChallenge, generateRandomCodeVerifier } from "oauth4webapi";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { forgetApps } from "../src/apps/registry";
import { client, createTestApp, errorCode, manualClock, uniqueEmail } from "./support/fixtures";
import { auditRows, inbox, linkToken } from "./support/mail";
import { openTestDatabase, postJson, send } from "./support/worker";

const clock = manualClock(new Date());
const app = createApp({ clock: clock.now });
let hosted: string;
let other: string;

beforeAll(async () => {
  hosted = await createTestApp("handoff");
  other = await createTestApp("handoff-b");
  const handle = openTestDatabase();
  try {
    await handle.db.execute(
      `update apps set email_login = true, email_signup = true, hosted_pages = true
       where id in ('${hosted}', '${other}')`,
    );
  } finally {
    await handle.close();
  }
  forgetApps();
});

const post = (appId: string, path: string, body: unknown) =>
  send(app, path, postJson(body, { "x-app-id": appId }));

function submitPage(appId: string, token: string) {
  return send(app, `/pages/${appId}/email-login?token=${token}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }).toString(),
  });
}

/** Asks for a sign-in mail as the SDK does, and follows its link on the hosted page. */
async function followLink(email: string, appId = hosted): Promise<{ verifier: string; location: URL }> {
  const verifier = generateRandomCodeVerifier();
  const codeChallenge = await calculatePKCECodeChallenge(verifier);
  expect((await post(appId, "/v1/auth/email-login", { email, codeChallenge })).status).toBe(202);
  const token = await linkToken(email, "email-login");
  if (!token) throw new Error(`no sign-in link mailed to ${email}`);
  const page = await send(app, `/pages/${appId}/email-login?token=${token}`);
  expect(page.status).toBe(200);
  const submitted = await submitPage(appId, token);
  expect(submitted.status).toBe(303);
  return { verifier, location: new URL(submitted.headers.get("location") ?? "") };
}

const exchange = (appId: string, code: string, verifier: string) =>
  post(appId, "/v1/auth/token", { grant_type: "authorization_code", code, code_verifier: verifier });

describe("a sign-in link followed on the hosted page", () => {
  it("returns to the app's URL with a one-time code that only the asking browser can exchange", async () => {
    const email = uniqueEmail();
    const { verifier, location } = await followLink(email);
    expect(location.origin).toBe(`https://${hosted}.example.com`);
    const code = location.searchParams.get("code") ?? "";
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect([...location.searchParams.keys()]).toEqual(["code"]);

    const response = await exchange(hosted, code, verifier);
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as { accessToken: string; user: { id: string; email: string } };
    expect(tokens.user.email).toBe(email);
    expect(decodeJwt(tokens.accessToken)).toMatchObject({ aud: hosted, amr: ["email"], aal: 1 });
    expect(await auditRows(tokens.user.id)).toContainEqual({
      event: "login_succeeded",
      details: { method: "email_link" },
    });
    // Once.
    expect(await errorCode(await exchange(hosted, code, verifier))).toBe("invalid_grant");
  });

  it("points the mail at the hosted page and keeps the page's token out of referrers", async () => {
    const email = uniqueEmail();
    await post(hosted, "/v1/auth/email-login", {
      email,
      codeChallenge: await calculatePKCECodeChallenge(generateRandomCodeVerifier()),
    });
    const mail = (await inbox(email)).at(-1);
    expect(mail?.text).toContain(`http://localhost/pages/${hosted}/email-login?token=`);
    const token = (await linkToken(email, "email-login")) ?? "";
    const page = await send(app, `/pages/${hosted}/email-login?token=${token}`);
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    // The form may end in the app's origin (the redirect after the POST), nowhere else.
    expect(page.headers.get("content-security-policy")).toContain(
      `form-action 'self' https://${hosted}.example.com`,
    );
    const submitted = await submitPage(hosted, token);
    expect(submitted.headers.get("referrer-policy")).toBe("no-referrer");
  });

  it("spends the code on a wrong verifier, so a stolen code gets one try", async () => {
    const email = uniqueEmail();
    const { verifier, location } = await followLink(email);
    const code = location.searchParams.get("code") ?? "";
    expect(await errorCode(await exchange(hosted, code, generateRandomCodeVerifier()))).toBe("invalid_grant");
    expect(await errorCode(await exchange(hosted, code, verifier))).toBe("invalid_grant");
  });

  it("refuses the code in another app and after 60 seconds", async () => {
    const email = uniqueEmail();
    const first = await followLink(email);
    const code = first.location.searchParams.get("code") ?? "";
    expect(await errorCode(await exchange(other, code, first.verifier))).toBe("invalid_grant");
    expect((await exchange(hosted, code, first.verifier)).status).toBe(200);

    clock.advance(61);
    const second = await followLink(uniqueEmail());
    clock.advance(61);
    const late = second.location.searchParams.get("code") ?? "";
    expect(await errorCode(await exchange(hosted, late, second.verifier))).toBe("invalid_grant");
  });

  it("lets exactly one of parallel exchanges of one code succeed", async () => {
    const { verifier, location } = await followLink(uniqueEmail());
    const code = location.searchParams.get("code") ?? "";
    const answers = await Promise.all(Array.from({ length: 8 }, () => exchange(hosted, code, verifier)));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
  });

  it("does not consume a link asked for without a PKCE challenge: its code still works in the app", async () => {
    const email = uniqueEmail();
    expect((await post(hosted, "/v1/auth/email-login", { email })).status).toBe(202);
    const token = (await linkToken(email, "email-login")) ?? "";
    const page = await send(app, `/pages/${hosted}/email-login?token=${token}`);
    expect(page.status).toBe(400);
    expect(await page.text()).toContain("Error code: invalid_token");
    expect((await submitPage(hosted, token)).status).toBe(400);
    const code = /is (\d{6})\./.exec((await inbox(email)).at(-1)?.text ?? "")?.[1];
    expect((await post(hosted, "/v1/auth/email-login/verify", { email, code })).status).toBe(200);
  });

  it("answers mfaRequired for an account with a second factor, carrying how the first step signed in", async () => {
    const email = uniqueEmail();
    const { accessToken } = await client(app, hosted).register(email);
    const handle = openTestDatabase();
    try {
      // A confirmed factor, as src/mfa/factors.ts leaves it (the secret is never read here).
      await handle.db.execute(`insert into mfa_factors (app_id, user_id, kind, secret_sealed, confirmed_at)
        select app_id, id, 'totp', 'sealed', now() from users where email = '${email}'`);
    } finally {
      await handle.close();
    }
    expect(accessToken).toBeTruthy();
    const { verifier, location } = await followLink(email);
    const response = await exchange(hosted, location.searchParams.get("code") ?? "", verifier);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ mfaRequired: true });
    expect(body).not.toHaveProperty("accessToken");
  });

  it("validates the exchange's fields", async () => {
    const short = await exchange(hosted, "abc", "too-short");
    expect(await errorCode(short)).toBe("validation_failed");
    const wrongGrant = await post(hosted, "/v1/auth/token", {
      grant_type: "password",
      code: "abc",
      code_verifier: generateRandomCodeVerifier(),
    });
    expect(await errorCode(wrongGrant)).toBe("validation_failed");
  });
});

describe("deleting an account with a mailed code", () => {
  async function signedInWithoutPassword(): Promise<{ email: string; accessToken: string; userId: string }> {
    const email = uniqueEmail();
    await post(hosted, "/v1/auth/email-login", { email });
    const code = /is (\d{6})\./.exec((await inbox(email)).at(-1)?.text ?? "")?.[1];
    const response = await post(hosted, "/v1/auth/email-login/verify", { email, code });
    const tokens = (await response.json()) as { accessToken: string; user: { id: string } };
    return { email, accessToken: tokens.accessToken, userId: tokens.user.id };
  }

  async function deletionCode(email: string): Promise<string> {
    const mail = (await inbox(email)).filter((m) => m.subject.includes("delete your account")).at(-1);
    const code = /is (\d{6})\./.exec(mail?.text ?? "")?.[1];
    if (!code) throw new Error(`no deletion code mailed to ${email}`);
    return code;
  }

  const remove = (token: string, body: unknown, appId = hosted) =>
    send(app, "/v1/auth/account", {
      method: "DELETE",
      headers: { "x-app-id": appId, authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("deletes with the right code, after refusing a wrong one", async () => {
    const user = await signedInWithoutPassword();
    const asked = await client(app, hosted).post("/v1/auth/account/deletion-code", {}, user.accessToken);
    expect(asked.status).toBe(202);
    const code = await deletionCode(user.email);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    expect(await errorCode(await remove(user.accessToken, { code: wrong }))).toBe("invalid_code");
    expect((await remove(user.accessToken, { code })).status).toBe(204);
    expect((await client(app, hosted).get("/v1/auth/me", user.accessToken)).status).toBe(401);
    expect((await auditRows(user.userId)).map((row) => row.event)).toEqual(
      expect.arrayContaining(["deletion_code_requested", "deletion_code_failed", "account_deleted"]),
    );
  });

  it("keeps the two kinds of code apart: a sign-in code cannot delete, a deletion code cannot sign in", async () => {
    const user = await signedInWithoutPassword();
    await client(app, hosted).post("/v1/auth/account/deletion-code", {}, user.accessToken);
    const code = await deletionCode(user.email);
    expect(
      await errorCode(await post(hosted, "/v1/auth/email-login/verify", { email: user.email, code })),
    ).toBe("invalid_code");
    clock.advance(61);
    await post(hosted, "/v1/auth/email-login", { email: user.email });
    const signInCode = /sign-in code for .+ is (\d{6})\./.exec(
      (await inbox(user.email)).at(-1)?.text ?? "",
    )?.[1];
    expect(await errorCode(await remove(user.accessToken, { code: signInCode }))).toBe("invalid_code");
  });

  it("spends the code after 5 wrong guesses, however many arrive at once", async () => {
    const user = await signedInWithoutPassword();
    clock.advance(61);
    await client(app, hosted).post("/v1/auth/account/deletion-code", {}, user.accessToken);
    const code = await deletionCode(user.email);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => remove(user.accessToken, { code: wrong })),
    );
    expect(answers.every((answer) => answer.status === 401 || answer.status === 429)).toBe(true);
    expect(await errorCode(await remove(user.accessToken, { code }))).toMatch(
      /^(invalid_code|too_many_attempts)$/,
    );
    const handle = openTestDatabase();
    try {
      const row = await handle.db.execute(
        `select failed_attempts, used_at is not null as used from email_logins
         where email = '${user.email}' and purpose = 'delete_account'`,
      );
      expect(row.rows[0]).toMatchObject({ used: true });
      expect(Number(row.rows[0]?.failed_attempts)).toBeLessThanOrEqual(5);
    } finally {
      await handle.close();
    }
  });

  it("is another app's token: refused", async () => {
    const user = await signedInWithoutPassword();
    const asked = await client(app, other).post("/v1/auth/account/deletion-code", {}, user.accessToken);
    expect(asked.status).toBe(401);
  });
});
