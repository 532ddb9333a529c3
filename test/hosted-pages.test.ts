import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { forgetApps } from "../src/apps/registry";
import { client, createTestApp, PASSWORD, uniqueEmail } from "./support/fixtures";
import { inbox, linkToken } from "./support/mail";
import { openTestDatabase, send } from "./support/worker";

const app = createApp();
let hosted: string;
let other: string;
let plain: string;

async function hostPages(appId: string): Promise<void> {
  const handle = openTestDatabase();
  try {
    await handle.db.execute(`update apps set hosted_pages = true where id = '${appId}'`);
  } finally {
    await handle.close();
  }
  forgetApps();
}

beforeAll(async () => {
  hosted = await createTestApp("pages");
  other = await createTestApp("pages-b");
  plain = await createTestApp("pages-off");
  await hostPages(hosted);
  await hostPages(other);
});

function submit(appId: string, page: string, fields: Record<string, string>) {
  return send(app, `/pages/${appId}/${page}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
}

async function emailVerified(appId: string, email: string): Promise<boolean> {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute(
      `select email_verified from users where app_id = '${appId}' and email = '${email}'`,
    );
    return result.rows[0]?.email_verified === true;
  } finally {
    await handle.close();
  }
}

async function registered(appId: string): Promise<{ email: string; token: string }> {
  const email = uniqueEmail();
  await client(app, appId).register(email);
  const token = await linkToken(email, "verify-email");
  if (!token) throw new Error(`no verify-email link mailed to ${email}`);
  return { email, token };
}

function errorShown(body: string): string | undefined {
  return /Error code: ([a-z_]+)/.exec(body)?.[1];
}

describe("hosted pages", () => {
  it("mails links to Turkey's own pages only for apps that turned them on", async () => {
    const email = uniqueEmail();
    await client(app, hosted).register(email);
    const [mail] = await inbox(email);
    expect(mail?.text).toContain(`http://localhost/pages/${hosted}/verify-email?token=`);

    const elsewhere = uniqueEmail();
    await client(app, plain).register(elsewhere);
    const [plainMail] = await inbox(elsewhere);
    expect(plainMail?.text).toContain(`https://${plain}.example.com/verify-email?token=`);
  });

  it("shows a form on GET without spending the token; the POST spends it once", async () => {
    const { email, token } = await registered(hosted);
    for (let i = 0; i < 2; i++) {
      const page = await send(app, `/pages/${hosted}/verify-email?token=${token}`);
      expect(page.status).toBe(200);
      const body = await page.text();
      expect(body).toContain(`<input type="hidden" name="token" value="${token}">`);
      expect(body).toContain(`Test ${hosted}`);
    }
    expect(await emailVerified(hosted, email)).toBe(false);

    const done = await submit(hosted, "verify-email", { token });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("Your email address is confirmed");
    expect(await emailVerified(hosted, email)).toBe(true);

    const replay = await submit(hosted, "verify-email", { token });
    expect(replay.status).toBe(400);
    expect(errorShown(await replay.text())).toBe("invalid_token");
  });

  it("refuses a token of another app", async () => {
    const { email, token } = await registered(hosted);
    const refused = await submit(other, "verify-email", { token });
    expect(refused.status).toBe(400);
    expect(errorShown(await refused.text())).toBe("invalid_token");
    expect(await emailVerified(hosted, email)).toBe(false);
  });

  it("resets a password, refusing a weak one without spending the token", async () => {
    const email = uniqueEmail();
    await client(app, hosted).register(email);
    await client(app, hosted).post("/v1/auth/forgot-password", { email });
    const token = await linkToken(email, "reset-password");
    expect(token).toBeDefined();
    const form = await send(app, `/pages/${hosted}/reset-password?token=${token}`);
    expect(await form.text()).toContain('<label for="password">New password</label>');

    const weak = await submit(hosted, "reset-password", { token: token ?? "", password: "short" });
    expect(weak.status).toBe(400);
    expect(errorShown(await weak.text())).toBe("validation_failed");

    const newPassword = `${PASSWORD} again`;
    const done = await submit(hosted, "reset-password", { token: token ?? "", password: newPassword });
    expect(done.status).toBe(200);
    await client(app, hosted).login(email, newPassword);
    const replay = await submit(hosted, "reset-password", { token: token ?? "", password: newPassword });
    expect(errorShown(await replay.text())).toBe("invalid_token");
  });

  it("confirms a change of email", async () => {
    const email = uniqueEmail();
    const newEmail = uniqueEmail();
    const { accessToken } = await client(app, hosted).register(email);
    await client(app, hosted).post("/v1/auth/change-email", { newEmail, password: PASSWORD }, accessToken);
    const token = await linkToken(newEmail, "confirm-email");
    expect(token).toBeDefined();
    expect((await send(app, `/pages/${hosted}/confirm-email?token=${token}`)).status).toBe(200);
    const done = await submit(hosted, "confirm-email", { token: token ?? "" });
    expect(done.status).toBe(200);
    await client(app, hosted).login(newEmail);
  });

  it("answers with strict headers, and a page for apps without hosted pages", async () => {
    const page = await send(app, `/pages/${hosted}/verify-email?token=abc`);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(await page.text()).toContain('<html lang="en">');

    const off = await send(app, `/pages/${plain}/verify-email?token=abc`);
    expect(off.status).toBe(400);
    expect(errorShown(await off.text())).toBe("unknown_app");
    expect(off.headers.get("content-security-policy")).toBe(csp);
  });
});
