import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { forgetApps } from "../src/apps/registry";
import { escapeHtml } from "../src/email/templates";
import {
  client,
  createTestApp,
  errorCode,
  manualClock,
  PASSWORD,
  type Tokens,
  uniqueEmail,
} from "./support/fixtures";
import { bindings, openTestDatabase, postJson, send } from "./support/worker";

const clock = manualClock(new Date());
const app = createApp({ clock: clock.now });
let appA: string;
let appB: string;

beforeAll(async () => {
  appA = await createTestApp("mail");
  appB = await createTestApp("mail-b");
});

interface Recorded {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

async function inbox(email: string): Promise<Recorded[]> {
  const response = await fetch(
    `${String(bindings.MAILGUN_API_BASE)}/recorded?to=${encodeURIComponent(email)}`,
  );
  return (await response.json()) as Recorded[];
}

/** The token of the last link of this kind in the address's inbox. */
async function tokenFrom(email: string, path: "verify-email" | "reset-password"): Promise<string> {
  const messages = await inbox(email);
  for (const message of messages.reverse()) {
    const match = new RegExp(`https://[^\\s]+/${path}\\?token=([A-Za-z0-9_-]+)`).exec(message.text);
    if (match?.[1]) return match[1];
  }
  throw new Error(`no ${path} link mailed to ${email}`);
}

async function auditCount(appId: string, event: string, userId?: string): Promise<number> {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute(
      `select count(*)::int as n from audit where app_id = '${appId}' and event = '${event}'
       ${userId ? `and user_id = '${userId}'` : ""}`,
    );
    return Number(result.rows[0]?.n);
  } finally {
    await handle.close();
  }
}

describe("email verification", () => {
  it("mails a link to the app's own URL on register, and following it verifies the email", async () => {
    const email = uniqueEmail();
    const tokens = await client(app, appA).register(email);
    const [message] = await inbox(email);
    expect(message?.from).toBe("noreply@turkey.test");
    expect(message?.subject).toContain(`Test ${appA}`);
    expect(message?.text).toContain(`https://${appA}.example.com/verify-email?token=`);
    expect(message?.html).toContain(`https://${appA}.example.com/verify-email?token=`);

    const token = await tokenFrom(email, "verify-email");
    const response = await client(app, appA).post("/v1/auth/verify-email", { token });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ user: { id: tokens.user.id, emailVerified: true } });
    const me = (await (await client(app, appA).login(email)).user) as { emailVerified?: boolean };
    expect(me.emailVerified).toBe(true);
    expect(await auditCount(appA, "email_verified", tokens.user.id)).toBe(1);
    expect(await auditCount(appA, "verification_sent", tokens.user.id)).toBe(1);
  });

  it("spends a token once, refuses other apps' tokens and expired ones", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    const token = await tokenFrom(email, "verify-email");
    expect(await errorCode(await client(app, appB).post("/v1/auth/verify-email", { token }))).toBe(
      "invalid_token",
    );
    expect((await client(app, appA).post("/v1/auth/verify-email", { token })).status).toBe(200);
    const again = await client(app, appA).post("/v1/auth/verify-email", { token });
    expect(again.status).toBe(400);
    expect(await errorCode(again)).toBe("invalid_token");

    const late = uniqueEmail();
    await client(app, appA).register(late);
    clock.advance(24 * 3600 + 1);
    const expired = await client(app, appA).post("/v1/auth/verify-email", {
      token: await tokenFrom(late, "verify-email"),
    });
    expect(await errorCode(expired)).toBe("invalid_token");
    expect(await errorCode(await client(app, appA).post("/v1/auth/verify-email", { token: "made-up" }))).toBe(
      "invalid_token",
    );
  });

  it("resends on request, at most once a minute, and answers the same for unknown emails", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    clock.advance(61);
    const known = await client(app, appA).post("/v1/auth/resend-verification", { email });
    const unknown = await client(app, appA).post("/v1/auth/resend-verification", { email: uniqueEmail() });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(await known.text()).toBe(await unknown.text());
    expect(await inbox(email)).toHaveLength(2);
    const throttled = await client(app, appA).post("/v1/auth/resend-verification", { email });
    expect(throttled.status).toBe(202);
    expect(await inbox(email)).toHaveLength(2);
  });
});

describe("REQUIRE_EMAIL_VERIFICATION=true", () => {
  const REQUIRED = { REQUIRE_EMAIL_VERIFICATION: "true" };
  const post = (path: string, body: unknown) =>
    send(app, path, postJson(body, { "x-app-id": appA }), REQUIRED);

  it("registers without tokens and refuses login until the email is verified", async () => {
    const email = uniqueEmail();
    const response = await post("/v1/auth/register", { email, password: PASSWORD });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.verificationRequired).toBe(true);
    expect(body.accessToken).toBeUndefined();
    expect(body.refreshToken).toBeUndefined();

    const refused = await post("/v1/auth/login", { email, password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe("email_not_verified");
    expect(await errorCode(await post("/v1/auth/login", { email, password: "wrong password" }))).toBe(
      "invalid_credentials",
    );

    await post("/v1/auth/verify-email", { token: await tokenFrom(email, "verify-email") });
    expect((await post("/v1/auth/login", { email, password: PASSWORD })).status).toBe(200);
  });

  it("answers a verified account's email exactly like a new one and mails the owner instead", async () => {
    const email = uniqueEmail();
    await post("/v1/auth/register", { email, password: PASSWORD, name: "Owner" });
    await post("/v1/auth/verify-email", { token: await tokenFrom(email, "verify-email") });
    const fresh = await post("/v1/auth/register", {
      email: uniqueEmail(),
      password: PASSWORD,
      name: "Owner",
    });
    const taken = await post("/v1/auth/register", { email, password: "another password", name: "Owner" });
    expect(taken.status).toBe(fresh.status);
    const shape = (body: { user: Record<string, unknown> }) => ({
      ...body,
      user: { ...body.user, id: "-", email: "-", createdAt: "-" },
    });
    expect(((await taken.clone().json()) as { user: { emailVerified: boolean } }).user.emailVerified).toBe(
      false,
    );
    expect(shape((await taken.json()) as { user: Record<string, unknown> })).toEqual(
      shape((await fresh.json()) as { user: Record<string, unknown> }),
    );
    const messages = await inbox(email);
    expect(messages.map((message) => message.subject)).toEqual([
      `Confirm your email for Test ${appA}`,
      `You already have an account for Test ${appA}`,
    ]);
    expect(messages[1]?.text).toContain("/reset-password?token=");
  });
});

describe("password reset", () => {
  it("mails a 1-hour link; the reset ends every session and access token of the user in that app", async () => {
    const email = uniqueEmail();
    const api = client(app, appA);
    const first = await api.register(email);
    const second = await api.login(email);
    const elsewhere = await client(app, appB).register(email);

    const accepted = await api.post("/v1/auth/forgot-password", { email });
    expect(accepted.status).toBe(202);
    const token = await tokenFrom(email, "reset-password");
    expect((await inbox(email)).at(-1)?.text).toContain(`https://${appA}.example.com/reset-password?token=`);

    const reset = await api.post("/v1/auth/reset-password", { token, password: "a brand new password" });
    expect(reset.status).toBe(200);
    expect(await reset.json()).toMatchObject({ user: { email } });

    for (const tokens of [first, second]) {
      expect(await errorCode(await api.get("/v1/auth/me", tokens.accessToken))).toBe("token_revoked");
      expect(await errorCode(await api.post("/v1/auth/refresh", { refreshToken: tokens.refreshToken }))).toBe(
        "invalid_refresh_token",
      );
    }
    expect(await errorCode(await api.post("/v1/auth/login", { email, password: PASSWORD }))).toBe(
      "invalid_credentials",
    );
    expect((await api.login(email, "a brand new password")).user.email).toBe(email);
    expect((await client(app, appB).get("/v1/auth/me", elsewhere.accessToken)).status).toBe(200);
    expect(await auditCount(appA, "password_reset", first.user.id)).toBe(1);
  });

  it("spends the token once, voids the user's other reset links, refuses other apps and expiry", async () => {
    const email = uniqueEmail();
    const api = client(app, appA);
    await api.register(email);
    await api.post("/v1/auth/forgot-password", { email });
    const older = await tokenFrom(email, "reset-password");
    clock.advance(61);
    await api.post("/v1/auth/forgot-password", { email });
    const newer = await tokenFrom(email, "reset-password");
    expect(newer).not.toBe(older);

    expect(
      await errorCode(
        await client(app, appB).post("/v1/auth/reset-password", { token: newer, password: "x".repeat(12) }),
      ),
    ).toBe("invalid_token");
    expect(
      (await api.post("/v1/auth/reset-password", { token: newer, password: "first new password" })).status,
    ).toBe(200);
    expect(
      await errorCode(
        await api.post("/v1/auth/reset-password", { token: newer, password: "second new password" }),
      ),
    ).toBe("invalid_token");
    expect(
      await errorCode(
        await api.post("/v1/auth/reset-password", { token: older, password: "third new password" }),
      ),
    ).toBe("invalid_token");

    clock.advance(61);
    await api.post("/v1/auth/forgot-password", { email });
    const late = await tokenFrom(email, "reset-password");
    clock.advance(3601);
    expect(
      await errorCode(
        await api.post("/v1/auth/reset-password", { token: late, password: "too late password" }),
      ),
    ).toBe("invalid_token");
  });

  it("answers identically for unknown emails, and throttles to one email a minute", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    clock.advance(61);
    const known = await client(app, appA).post("/v1/auth/forgot-password", { email });
    const unknown = await client(app, appA).post("/v1/auth/forgot-password", { email: uniqueEmail() });
    expect(known.status).toBe(unknown.status);
    expect(await known.text()).toBe(await unknown.text());
    await client(app, appA).post("/v1/auth/forgot-password", { email });
    const resets = (await inbox(email)).filter((message) => message.subject.startsWith("Reset"));
    expect(resets).toHaveLength(1);
  });
});

describe("password change", () => {
  it("keeps the current session and ends the others", async () => {
    const email = uniqueEmail();
    const api = client(app, appA);
    const other: Tokens = await api.register(email);
    const current = await api.login(email);
    const wrong = await api.post(
      "/v1/auth/change-password",
      { currentPassword: "not my password", newPassword: "my next password" },
      current.accessToken,
    );
    expect(await errorCode(wrong)).toBe("invalid_credentials");
    const changed = await api.post(
      "/v1/auth/change-password",
      { currentPassword: PASSWORD, newPassword: "my next password" },
      current.accessToken,
    );
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ user: { email } });
    expect((await api.get("/v1/auth/me", current.accessToken)).status).toBe(200);
    expect((await api.post("/v1/auth/refresh", { refreshToken: current.refreshToken })).status).toBe(200);
    expect(await errorCode(await api.get("/v1/auth/me", other.accessToken))).toBe("token_revoked");
    expect(await errorCode(await api.post("/v1/auth/refresh", { refreshToken: other.refreshToken }))).toBe(
      "invalid_refresh_token",
    );
    expect((await api.login(email, "my next password")).user.email).toBe(email);
    expect(await auditCount(appA, "password_changed", other.user.id)).toBe(1);
  });

  it("applies the password policy to the new password", async () => {
    const tokens = await client(app, appA).register();
    const response = await client(app, appA).post(
      "/v1/auth/change-password",
      { currentPassword: PASSWORD, newPassword: "short" },
      tokens.accessToken,
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { field: string } }).error.field).toBe("newPassword");
  });
});

describe("delivery failures", () => {
  it("still answers 201/202 when Mailgun fails, keeps the user, and audits the failure", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const email = `mailgun-fails-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const tokens = await client(app, appA).register(email);
    expect(tokens.user.email).toBe(email);
    clock.advance(61);
    expect((await client(app, appA).post("/v1/auth/forgot-password", { email })).status).toBe(202);
    expect(await auditCount(appA, "mail_failed", tokens.user.id)).toBe(2);
    expect((await client(app, appA).login(email)).user.id).toBe(tokens.user.id);
    vi.restoreAllMocks();
  });
});

describe("templates", () => {
  it("escape the app's name in the HTML part", async () => {
    const hostile = await createTestApp("hostile");
    const name = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
    const handle = openTestDatabase();
    try {
      await handle.db.execute(sql`update apps set name = ${name} where id = ${hostile}`);
    } finally {
      await handle.close();
    }
    forgetApps();
    const email = uniqueEmail();
    await client(app, hostile).post("/v1/auth/register", { email, password: PASSWORD });
    const [message] = await inbox(email);
    expect(message?.html).not.toContain("<script>");
    expect(message?.html).not.toContain("<img");
    expect(message?.html).toContain(escapeHtml(name));
    expect(message?.text).toContain(name);
  });

  it("escapeHtml covers the five special characters", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      "&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;",
    );
  });
});
