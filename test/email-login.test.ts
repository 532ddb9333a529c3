import { decodeJwt } from "jose";
import * as OTPAuth from "otpauth";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { forgetApps } from "../src/apps/registry";
import type { Bindings } from "../src/context";
import { client, createTestApp, errorCode, manualClock, PASSWORD, uniqueEmail } from "./support/fixtures";
import { auditRows, inbox, linkToken } from "./support/mail";
import { bindings, openTestDatabase, postJson, send } from "./support/worker";

const clock = manualClock(new Date());
const app = createApp({ clock: clock.now });
let appA: string;
let appB: string;
let signupApp: string;
let closedApp: string;

async function setSwitches(appId: string, emailLogin: boolean, emailSignup: boolean): Promise<void> {
  const handle = openTestDatabase();
  try {
    await handle.db.execute(
      `update apps set email_login = ${emailLogin}, email_signup = ${emailSignup} where id = '${appId}'`,
    );
  } finally {
    await handle.close();
  }
  forgetApps();
}

beforeAll(async () => {
  appA = await createTestApp("elogin");
  appB = await createTestApp("elogin-b");
  signupApp = await createTestApp("elogin-signup");
  closedApp = await createTestApp("elogin-off");
  await setSwitches(appA, true, false);
  await setSwitches(appB, true, false);
  await setSwitches(signupApp, true, true);
});

function post(appId: string, path: string, body: unknown, overrides: Partial<Bindings> = {}) {
  return send(app, path, postJson(body, { "x-app-id": appId }), overrides);
}
const requestLogin = (email: string, appId = appA) => post(appId, "/v1/auth/email-login", { email });
const verify = (body: unknown, appId = appA, overrides: Partial<Bindings> = {}) =>
  post(appId, "/v1/auth/email-login/verify", body, overrides);

/** The code in the newest sign-in mail to the address. */
async function mailedCode(email: string): Promise<string> {
  const mails = (await inbox(email)).filter((mail) => mail.subject.includes("sign-in code"));
  const code = /code for .+ is (\d{6})\./.exec(mails.at(-1)?.text ?? "")?.[1];
  if (!code) throw new Error(`no sign-in code mailed to ${email}`);
  return code;
}

function wrongCode(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, "0");
}

async function codeRow(email: string): Promise<{ failed_attempts: number; used: boolean }> {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute(
      `select failed_attempts, used_at is not null as used from email_logins
       where email = '${email}' order by created_at desc limit 1`,
    );
    return result.rows[0] as { failed_attempts: number; used: boolean };
  } finally {
    await handle.close();
  }
}

describe("sign-in by email", () => {
  it("is off unless the app turns it on", async () => {
    const email = uniqueEmail();
    await client(app, closedApp).register(email);
    expect(await errorCode(await requestLogin(email, closedApp))).toBe("email_login_disabled");
    expect(await errorCode(await verify({ email, code: "123456" }, closedApp))).toBe("email_login_disabled");
    expect(await inbox(email)).toHaveLength(1); // the verification mail of registration only
  });

  it("signs in with the mailed code, once", async () => {
    const email = uniqueEmail();
    const registered = await client(app, appA).register(email);
    const asked = await requestLogin(` ${email.toUpperCase()} `);
    expect(asked.status).toBe(202);
    expect(await asked.json()).toEqual({ accepted: true });
    const mail = (await inbox(email)).at(-1);
    expect(mail?.text).toContain(`https://${appA}.example.com/email-login?token=`);

    const code = await mailedCode(email);
    const response = await verify({ email, code });
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as {
      accessToken: string;
      user: { id: string; emailVerified: boolean };
    };
    expect(tokens.user).toMatchObject({ id: registered.user.id, emailVerified: true });
    expect(decodeJwt(tokens.accessToken)).toMatchObject({ amr: ["otp"], aal: 1 });
    expect((await client(app, appA).get("/v1/auth/me", tokens.accessToken)).status).toBe(200);
    expect(await errorCode(await verify({ email, code }))).toBe("invalid_code");
    const events = await auditRows(registered.user.id);
    expect(events).toContainEqual({ event: "login_succeeded", details: { method: "email_code" } });
  });

  it("signs in with the mailed link, once, and only in its app", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    await requestLogin(email);
    const token = await linkToken(email, "email-login");
    expect(await errorCode(await verify({ token }, appB))).toBe("invalid_token");
    const response = await verify({ token });
    expect(response.status).toBe(200);
    const { accessToken } = (await response.json()) as { accessToken: string };
    expect(decodeJwt(accessToken)).toMatchObject({ amr: ["email"], aal: 1 });
    expect(await errorCode(await verify({ token }))).toBe("invalid_token");
    // The link spent the code mailed with it.
    expect(await errorCode(await verify({ email, code: await mailedCode(email) }))).toBe("invalid_code");
  });

  it("refuses an expired code and a superseded one", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    await requestLogin(email);
    const first = await mailedCode(email);
    clock.advance(61);
    await requestLogin(email);
    const second = await mailedCode(email);
    expect(await errorCode(await verify({ email, code: first }))).toBe(
      first === second ? "invalid_code" : "invalid_code",
    );
    clock.advance(10 * 60 + 1);
    expect(await errorCode(await verify({ email, code: second }))).toBe("invalid_code");
  });

  it("mails at most once a minute per address", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    await requestLogin(email);
    await requestLogin(email);
    expect((await inbox(email)).filter((mail) => mail.subject.includes("sign-in code"))).toHaveLength(1);
  });

  it("spends a code after 5 wrong guesses", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    await requestLogin(email);
    const code = await mailedCode(email);
    // A high lockout threshold, so the code's own limit is what refuses.
    const lenient = { LOGIN_LOCKOUT_THRESHOLD: "50" };
    for (let i = 0; i < 5; i++) {
      expect(await errorCode(await verify({ email, code: wrongCode(code) }, appA, lenient))).toBe(
        "invalid_code",
      );
    }
    expect(await errorCode(await verify({ email, code }, appA, lenient))).toBe("invalid_code");
    expect(await codeRow(email)).toEqual({ failed_attempts: 5, used: true });
  });

  it("counts no more than 5 wrong guesses under parallel requests", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    await requestLogin(email);
    const code = await mailedCode(email);
    const lenient = { LOGIN_LOCKOUT_THRESHOLD: "50", LOGIN_FAILURE_CEILING: "100" };
    // A trigger holds every guess's update of the code's row until the test lets go, so the
    // guesses reach Postgres together; released, each must see what the ones before it did.
    const holder = new pg.Client({ connectionString: (bindings.HYPERDRIVE as Hyperdrive).connectionString });
    holder.on("error", () => {});
    await holder.connect();
    let answers: Response[];
    try {
      await holder.query(HOLD_GUESSES);
      await holder.query("insert into test_gate.held_guesses (email) values ($1)", [email]);
      await holder.query("select pg_advisory_lock(4343, 1)");
      const guesses = Array.from({ length: 12 }, () =>
        verify({ email, code: wrongCode(code) }, appA, lenient),
      );
      await waitForLockWaiters(holder, 12);
      await holder.query("select pg_advisory_unlock(4343, 1)");
      answers = await Promise.all(guesses);
    } finally {
      await holder.query("delete from test_gate.held_guesses where email = $1", [email]);
      await holder.end();
    }
    expect(answers.map((answer) => answer.status)).toEqual(Array(12).fill(401));
    expect(await codeRow(email)).toEqual({ failed_attempts: 5, used: true });
    expect(await errorCode(await verify({ email, code }, appA, lenient))).toBe("invalid_code");
  });

  it("counts wrong codes towards the account's lockout", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    await requestLogin(email);
    const code = await mailedCode(email);
    for (let i = 0; i < 5; i++) await verify({ email, code: wrongCode(code) });
    const login = await post(appA, "/v1/auth/login", { email, password: PASSWORD });
    expect(await errorCode(login)).toBe("too_many_attempts");
    expect(await errorCode(await verify({ email, code }))).toBe("too_many_attempts");
  });

  it("never stands in for a second factor: an account with one gets mfaRequired, then signs in with both", async () => {
    const email = uniqueEmail();
    const { accessToken } = await client(app, appA).register(email);
    const started = await client(app, appA).post("/v1/auth/mfa/totp/enroll", {}, accessToken);
    const { otpauthUrl } = (await started.json()) as { otpauthUrl: string };
    const totp = OTPAuth.URI.parse(otpauthUrl) as OTPAuth.TOTP;
    const confirmed = await client(app, appA).post(
      "/v1/auth/mfa/totp/confirm",
      { code: totp.generate({ timestamp: clock.now().getTime() }) },
      accessToken,
    );
    expect(confirmed.status).toBe(200);

    await requestLogin(email);
    const code = await mailedCode(email);
    const first = await verify({ email, code });
    expect(first.status).toBe(200);
    const challenge = (await first.json()) as Record<string, unknown>;
    expect(challenge).toMatchObject({ mfaRequired: true, methods: ["totp", "recovery_code"] });
    expect(challenge).not.toHaveProperty("accessToken");
    // The mailed code is spent by the first step.
    expect(await errorCode(await verify({ email, code }))).toBe("invalid_code");

    clock.advance(30); // the confirming code's time step is spent
    const second = await post(appA, "/v1/auth/mfa/verify", {
      mfaToken: challenge.mfaToken,
      code: totp.generate({ timestamp: clock.now().getTime() }),
    });
    expect(second.status).toBe(200);
    const tokens = (await second.json()) as { accessToken: string };
    // Two one-time codes: the list alone would not show two factors, so it says mfa.
    expect(decodeJwt(tokens.accessToken)).toMatchObject({ amr: ["otp", "mfa"], aal: 2 });
  });

  it("answers an unknown address like a known one, and mails it nothing", async () => {
    const known = uniqueEmail();
    await client(app, appA).register(known);
    const unknown = uniqueEmail();
    const [a, b] = [await requestLogin(known), await requestLogin(unknown)];
    expect([a.status, await a.text()]).toEqual([b.status, await b.text()]);
    expect(await inbox(unknown)).toEqual([]);
    expect(await errorCode(await verify({ email: unknown, code: "123456" }))).toBe("invalid_code");
  });

  it("creates the account on first sign-in when the app signs up by email", async () => {
    const email = uniqueEmail();
    expect((await requestLogin(email, signupApp)).status).toBe(202);
    const code = await mailedCode(email);
    const response = await verify({ email, code }, signupApp);
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as { user: { id: string; email: string; emailVerified: boolean } };
    expect(tokens.user).toMatchObject({ email, emailVerified: true });
    const events = (await auditRows(tokens.user.id)).map((row) => row.event);
    expect(events).toEqual(expect.arrayContaining(["register", "login_succeeded"]));
    // Nobody knows its password: password sign-in fails like any wrong password.
    expect(await errorCode(await post(signupApp, "/v1/auth/login", { email, password: PASSWORD }))).toBe(
      "invalid_credentials",
    );
  });

  it("verifies the address of an unverified account", async () => {
    const email = uniqueEmail();
    await client(app, appA).register(email);
    await requestLogin(email);
    const strict = { REQUIRE_EMAIL_VERIFICATION: "true" };
    const response = await verify({ email, code: await mailedCode(email) }, appA, strict);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { user: { emailVerified: boolean } }).user.emailVerified).toBe(true);
  });
});

// In the schema of test/support/gate.ts, so the application's schema stays as migrated. Installed
// once, under a lock (test files run in parallel; DDL under their traffic could deadlock), and
// holding only the guesses at addresses the test lists.
const HOLD_GUESSES = `
  begin;
  select pg_advisory_xact_lock(4344, 0);
  create schema if not exists test_gate;
  create table if not exists test_gate.held_guesses (email text primary key);
  do $install$ begin
    if not exists (select 1 from pg_trigger where tgname = 'test_hold_guesses') then
      create function test_gate.hold_guesses() returns trigger language plpgsql as $$
      begin
        if exists (select 1 from test_gate.held_guesses where email = new.email) then
          perform pg_advisory_xact_lock_shared(4343, 1);
        end if;
        return new;
      end $$;
      create trigger test_hold_guesses before update on email_logins for each row
        when (new.failed_attempts > old.failed_attempts) execute function test_gate.hold_guesses();
    end if;
  end $install$;
  commit;`;

/** Polls Postgres until this many statements of this database wait on a lock on email_logins. */
async function waitForLockWaiters(connection: pg.Client, wanted: number): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const result = await connection.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
       where datname = current_database() and wait_event_type in ('Lock', 'advisory') and query like '%email_logins%'`,
    );
    if ((result.rows[0]?.n ?? 0) >= wanted) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const seen = await connection.query(
    "select wait_event_type, left(query, 60) as q, state from pg_stat_activity where datname = current_database()",
  );
  throw new Error(`never saw ${wanted} guesses waiting: ${JSON.stringify(seen.rows)}`);
}
