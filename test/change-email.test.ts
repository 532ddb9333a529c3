import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { client, createTestApp, errorCode, manualClock, PASSWORD, uniqueEmail } from "./support/fixtures";
import { race } from "./support/gate";
import { auditRows, inbox, linkToken } from "./support/mail";
import { openTestDatabase } from "./support/worker";

const clock = manualClock(new Date());
const app = createApp({ clock: clock.now });
let appA: string;
let appB: string;

beforeAll(async () => {
  appA = await createTestApp("chmail");
  appB = await createTestApp("chmail-b");
});

const api = () => client(app, appA);

async function changeEmail(accessToken: string, newEmail: string, password = PASSWORD) {
  return api().post("/v1/auth/change-email", { newEmail, password }, accessToken);
}

async function confirmToken(newEmail: string): Promise<string> {
  const token = await linkToken(newEmail, "confirm-email");
  if (!token) throw new Error(`no confirm-email link mailed to ${newEmail}`);
  return token;
}

async function usersWithEmail(appId: string, email: string): Promise<number> {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute(
      `select count(*)::int as n from users where app_id = '${appId}' and email = '${email}'`,
    );
    return Number(result.rows[0]?.n);
  } finally {
    await handle.close();
  }
}

describe("change of email", () => {
  it("moves the account only when the new address confirms, and ends the other sessions", async () => {
    const oldEmail = uniqueEmail();
    const newEmail = uniqueEmail();
    const asker = await api().register(oldEmail);
    const other = await api().login(oldEmail);

    const asked = await changeEmail(asker.accessToken, ` ${newEmail.toUpperCase()} `);
    expect(asked.status).toBe(202);
    expect(await asked.json()).toEqual({ accepted: true });
    // Nothing changed yet: the old address still signs in.
    await api().login(oldEmail);

    const [confirmMail] = await inbox(newEmail);
    expect(confirmMail?.text).toContain(`https://${appA}.example.com/confirm-email?token=`);
    const notice = (await inbox(oldEmail)).find((mail) => mail.subject.includes("Email change requested"));
    expect(notice).toBeDefined();
    // No link to act on, and not the text the requester chose.
    expect(notice?.text).not.toMatch(/https?:\/\//);
    expect(notice?.html).not.toContain("href");
    expect(notice?.text).not.toContain(newEmail);

    const confirmed = await api().post("/v1/auth/confirm-email", { token: await confirmToken(newEmail) });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.json()).toMatchObject({
      user: { id: asker.user.id, email: newEmail, emailVerified: true },
    });

    // The other session ended, its access token is revoked; the asking one refreshes into the new address.
    expect(await errorCode(await api().get("/v1/auth/me", other.accessToken))).toBe("token_revoked");
    expect((await api().post("/v1/auth/refresh", { refreshToken: other.refreshToken })).status).toBe(401);
    const refreshed = await api().post("/v1/auth/refresh", { refreshToken: asker.refreshToken });
    expect(refreshed.status).toBe(200);
    const { accessToken } = (await refreshed.json()) as { accessToken: string };
    expect(decodeJwt(accessToken)).toMatchObject({ email: newEmail, email_verified: true });

    expect(await errorCode(await api().post("/v1/auth/login", { email: oldEmail, password: PASSWORD }))).toBe(
      "invalid_credentials",
    );
    await api().login(newEmail);
    const changedMail = (await inbox(oldEmail)).find((mail) => mail.subject.includes("was changed"));
    expect(changedMail?.text).not.toMatch(/https?:\/\//);
    const events = (await auditRows(asker.user.id)).map((row) => row.event);
    expect(events).toEqual(expect.arrayContaining(["email_change_requested", "email_changed"]));
  });

  it("refuses a wrong password, counting it against the account, and mails nothing", async () => {
    const email = uniqueEmail();
    const newEmail = uniqueEmail();
    const user = await api().register(email);
    const wrong = await changeEmail(user.accessToken, newEmail, "not the password");
    expect(await errorCode(wrong)).toBe("invalid_credentials");
    expect(await inbox(newEmail)).toEqual([]);
    for (let i = 1; i < 5; i++) await changeEmail(user.accessToken, newEmail, `wrong ${i}`);
    // Five failures lock the account for sign-in too.
    expect(await errorCode(await api().post("/v1/auth/login", { email, password: PASSWORD }))).toBe(
      "too_many_attempts",
    );
    expect(await errorCode(await changeEmail(user.accessToken, newEmail))).toBe("too_many_attempts");
    expect(await inbox(newEmail)).toEqual([]);
    const failures = (await auditRows(user.user.id)).filter((row) => row.event === "password_check_failed");
    expect(failures).toHaveLength(5);
    expect(failures[0]?.details).toMatchObject({ action: "change_email" });
  });

  it("needs a signed-in user", async () => {
    const response = await api().post("/v1/auth/change-email", {
      newEmail: uniqueEmail(),
      password: PASSWORD,
    });
    expect(await errorCode(response)).toBe("token_missing");
  });

  it("refuses a replayed, expired, superseded or other app's link", async () => {
    const user = await api().register();
    const first = uniqueEmail();
    await changeEmail(user.accessToken, first);
    const firstToken = await confirmToken(first);

    expect(
      await errorCode(await client(app, appB).post("/v1/auth/confirm-email", { token: firstToken })),
    ).toBe("invalid_token");
    // A new request (after the one-a-minute window) spends the previous link.
    clock.advance(61);
    const second = uniqueEmail();
    await changeEmail(user.accessToken, second);
    expect(await errorCode(await api().post("/v1/auth/confirm-email", { token: firstToken }))).toBe(
      "invalid_token",
    );
    const secondToken = await confirmToken(second);
    expect((await api().post("/v1/auth/confirm-email", { token: secondToken })).status).toBe(200);
    expect(await errorCode(await api().post("/v1/auth/confirm-email", { token: secondToken }))).toBe(
      "invalid_token",
    );

    clock.advance(61);
    const third = uniqueEmail();
    await changeEmail(user.accessToken, third);
    clock.advance(24 * 3600 + 1);
    expect(
      await errorCode(await api().post("/v1/auth/confirm-email", { token: await confirmToken(third) })),
    ).toBe("invalid_token");
  });

  it("mails at most one link a minute", async () => {
    const user = await api().register();
    const first = uniqueEmail();
    const second = uniqueEmail();
    expect((await changeEmail(user.accessToken, first)).status).toBe(202);
    expect((await changeEmail(user.accessToken, second)).status).toBe(202);
    expect(await inbox(first)).toHaveLength(1);
    expect(await inbox(second)).toEqual([]);
  });

  it("answers alike for a taken address, and refuses it at confirmation", async () => {
    const taken = uniqueEmail();
    await api().register(taken);
    const user = await api().register();
    const free = await changeEmail(user.accessToken, uniqueEmail());
    clock.advance(61);
    const toTaken = await changeEmail(user.accessToken, taken);
    expect(toTaken.status).toBe(free.status);
    expect(await toTaken.json()).toEqual({ accepted: true });

    const token = await confirmToken(taken);
    expect(await errorCode(await api().post("/v1/auth/confirm-email", { token }))).toBe("email_taken");
    // Spent all the same, and the account kept its address.
    expect(await errorCode(await api().post("/v1/auth/confirm-email", { token }))).toBe("invalid_token");
    expect(await usersWithEmail(appA, taken)).toBe(1);
    await api().login(user.user.email);
  });

  it("refuses an address taken between the request and the confirmation", async () => {
    const user = await api().register();
    const target = uniqueEmail();
    await changeEmail(user.accessToken, target);
    await api().register(target);
    const token = await confirmToken(target);
    expect(await errorCode(await api().post("/v1/auth/confirm-email", { token }))).toBe("email_taken");
  });

  it("lets exactly one of two racing confirmations for the same address win", async () => {
    const target = uniqueEmail();
    const first = await api().register();
    const second = await api().register();
    await changeEmail(first.accessToken, target);
    const firstToken = await confirmToken(target);
    await changeEmail(second.accessToken, target);
    const secondToken = await confirmToken(target);
    expect(secondToken).not.toBe(firstToken);

    // The first confirmation is held after it moved its account, before it commits; the second
    // then runs to the unique index and waits there.
    const [held, competing] = await race(
      first.user.id,
      1,
      () => api().post("/v1/auth/confirm-email", { token: firstToken }),
      () => api().post("/v1/auth/confirm-email", { token: secondToken }),
    );
    expect(held.status).toBe(200);
    expect(await errorCode(competing)).toBe("email_taken");
    expect(await usersWithEmail(appA, target)).toBe(1);
  });

  it("settles parallel confirmations for one address with one winner", async () => {
    const target = uniqueEmail();
    const users = [await api().register(), await api().register(), await api().register()];
    const tokens: string[] = [];
    for (const user of users) {
      await changeEmail(user.accessToken, target);
      tokens.push(await confirmToken(target));
    }
    const answers = await Promise.all(tokens.map((token) => api().post("/v1/auth/confirm-email", { token })));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 409, 409]);
    expect(await usersWithEmail(appA, target)).toBe(1);
  });
});
