/**
 * Identities and the linking rules: a provider account joins an existing password account only
 * when both the provider and the account vouch for the email; a signed-in user links and
 * unlinks providers, never the last way in; a mailbox proof drops identities whose provider
 * never vouched for the address.
 */
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { forgetServers } from "../src/federation/servers";
import { client, createTestApp, errorCode, PASSWORD, uniqueEmail } from "./support/fixtures";
import { linkToken } from "./support/mail";
import {
  callback,
  enableProvider,
  exchange,
  type ProviderSetup,
  pkce,
  returned,
  type SignedIn,
  script,
  visitProvider,
  walkSignIn,
} from "./support/oauth";
import { openTestDatabase, postJson, send } from "./support/worker";

const app = createApp();
let appId: string;
let oidc: ProviderSetup;
let google: ProviderSetup;
const RETURN = "https://ids.example.com/return";

beforeAll(async () => {
  forgetServers();
  appId = await createTestApp("ids");
  oidc = await enableProvider(appId, "oidc", [RETURN]);
  google = await enableProvider(appId, "google", [RETURN]);
});

const subject = () => `sub-${crypto.randomUUID()}`;

async function query<T = Record<string, unknown>>(text: ReturnType<typeof sql>): Promise<T[]> {
  const handle = openTestDatabase();
  try {
    return (await handle.db.execute(text)).rows as T[];
  } finally {
    await handle.close();
  }
}

async function markVerified(email: string): Promise<void> {
  await query(sql`update users set email_verified = true where app_id = ${appId} and email = ${email}`);
}

/** Signs in through the provider as scripted; the redirect's query. */
async function federated(
  setup: ProviderSetup,
  provider: string,
  account: Parameters<typeof script>[1],
): Promise<{ answer: URLSearchParams; verifier: string }> {
  await script(setup, account);
  const { verifier, challenge } = await pkce();
  return { answer: returned(await walkSignIn(app, provider, appId, RETURN, challenge)), verifier };
}

async function signInAs(
  setup: ProviderSetup,
  provider: string,
  sub: string,
  email: string,
): Promise<SignedIn> {
  const { answer, verifier } = await federated(setup, provider, { sub, email, emailVerified: true });
  return exchange(app, appId, String(answer.get("code")), verifier);
}

describe("signing in to an existing password account", () => {
  it("links when the provider and the account both vouch for the email", async () => {
    const api = client(app, appId);
    const email = uniqueEmail();
    const registered = await api.register(email);
    await markVerified(email);
    const session = await signInAs(oidc, "oidc", subject(), email);
    expect(session.user.id).toBe(registered.user.id);
    const audit = await query(sql`select event from audit where user_id = ${registered.user.id}::uuid`);
    expect(audit.map((row) => row.event)).toContain("identity_linked");
  });

  it("refuses with account_exists when the provider does not vouch for the email", async () => {
    const api = client(app, appId);
    const email = uniqueEmail();
    await api.register(email);
    await markVerified(email);
    const before = await query(sql`select 1 from audit where app_id = ${appId} and event = 'oauth_failed'`);
    const { answer } = await federated(oidc, "oidc", { sub: subject(), email, emailVerified: false });
    expect(answer.get("error")).toBe("account_exists");
    expect(answer.get("code")).toBeNull();
    const failures = await query<{ details: { provider: string; reason: string } }>(sql`
      select details from audit where app_id = ${appId} and event = 'oauth_failed' order by created_at`);
    expect(failures).toHaveLength(before.length + 1);
    expect(failures.at(-1)?.details).toEqual({ provider: "oidc", reason: "account_exists" });
  });

  it("refuses with account_exists when the account's email is not verified", async () => {
    const api = client(app, appId);
    const email = uniqueEmail();
    await api.register(email);
    const { answer } = await federated(oidc, "oidc", { sub: subject(), email, emailVerified: true });
    expect(answer.get("error")).toBe("account_exists");
    expect(await query(sql`select 1 from identities where email = ${email}`)).toHaveLength(0);
  });

  it("refuses a provider account that shares no email", async () => {
    const { answer } = await federated(oidc, "oidc", { sub: subject() });
    expect(answer.get("error")).toBe("email_required");
  });
});

describe("accounts made by a provider", () => {
  it("have no password until a reset sets one", async () => {
    const email = uniqueEmail();
    await signInAs(oidc, "oidc", subject(), email);
    const login = await send(
      app,
      "/v1/auth/login",
      postJson({ email, password: PASSWORD }, { "x-app-id": appId }),
    );
    expect(await errorCode(login)).toBe("invalid_credentials");
    await client(app, appId).post("/v1/auth/forgot-password", { email });
    const token = await waitForLink(email, "reset-password");
    const reset = await client(app, appId).post("/v1/auth/reset-password", { token, password: PASSWORD });
    expect(reset.status).toBe(200);
    const [user] = await query(
      sql`select password_set from users where app_id = ${appId} and email = ${email}`,
    );
    expect(user?.password_set).toBe(true);
    expect((await client(app, appId).login(email)).accessToken).toBeTruthy();
  });

  it("lose identities whose provider never vouched for the address once the mailbox proves it", async () => {
    // Someone signs up at a provider with an address they do not own.
    const email = uniqueEmail();
    const { answer } = await federated(oidc, "oidc", { sub: subject(), email, emailVerified: false });
    expect(answer.get("code")).toBeTruthy();
    // The address's owner takes the account over through the mailbox.
    await client(app, appId).post("/v1/auth/forgot-password", { email });
    const token = await waitForLink(email, "reset-password");
    expect(
      (await client(app, appId).post("/v1/auth/reset-password", { token, password: PASSWORD })).status,
    ).toBe(200);
    expect(
      await query(sql`select 1 from identities where app_id = ${appId} and email = ${email}`),
    ).toHaveLength(0);
  });
});

async function waitForLink(email: string, page: string): Promise<string> {
  for (let tries = 0; tries < 50; tries++) {
    const token = await linkToken(email, page);
    if (token) return token;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${page} mail for ${email}`);
}

describe("a signed-in user's identities", () => {
  it("lists, links another provider through the redirect flow, and unlinks", async () => {
    const email = uniqueEmail();
    const session = await signInAs(oidc, "oidc", subject(), email);
    const api = client(app, appId);
    const start = await api.post(
      "/v1/auth/identities/link/google",
      { redirectTo: RETURN },
      session.accessToken,
    );
    expect(start.status).toBe(200);
    const { url } = (await start.json()) as { url: string };
    await script(google, { sub: subject(), email: uniqueEmail(), emailVerified: false });
    const answer = returned(await callback(app, await visitProvider(url)));
    expect(answer.get("linked")).toBe("google");
    expect(answer.get("code")).toBeNull();
    const listed = await api.get("/v1/auth/identities", session.accessToken);
    const { identities } = (await listed.json()) as { identities: { id: string; provider: string }[] };
    expect(identities.map((identity) => identity.provider)).toEqual(["oidc", "google"]);
    const google0 = identities.find((identity) => identity.provider === "google");
    expect((await api.del(`/v1/auth/identities/${google0?.id}`, session.accessToken)).status).toBe(204);
  });

  it("refuses to unlink the last way in, and allows it once a password exists", async () => {
    const email = uniqueEmail();
    const session = await signInAs(oidc, "oidc", subject(), email);
    const api = client(app, appId);
    const [only] = await query<{ id: string }>(
      sql`select id from identities where user_id = ${session.user.id}::uuid`,
    );
    const refused = await api.del(`/v1/auth/identities/${only?.id}`, session.accessToken);
    expect(await errorCode(refused)).toBe("last_sign_in_method");
    await query(sql`update users set password_set = true where id = ${session.user.id}::uuid`);
    expect((await api.del(`/v1/auth/identities/${only?.id}`, session.accessToken)).status).toBe(204);
  });

  it("lets only one of two parallel unlinks of a passwordless user's two identities through", async () => {
    const email = uniqueEmail();
    const session = await signInAs(oidc, "oidc", subject(), email);
    await query(sql`
      insert into identities (app_id, user_id, provider, subject, email, email_verified)
      values (${appId}, ${session.user.id}::uuid, 'google', ${subject()}, ${email}, true)`);
    const ids = await query<{ id: string }>(
      sql`select id from identities where user_id = ${session.user.id}::uuid`,
    );
    const api = client(app, appId);
    const answers = await Promise.all(
      ids.map((row) => api.del(`/v1/auth/identities/${row.id}`, session.accessToken)),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([204, 409]);
    expect(await query(sql`select 1 from identities where user_id = ${session.user.id}::uuid`)).toHaveLength(
      1,
    );
  });

  it("refuses to link a provider account that belongs to another user", async () => {
    const taken = subject();
    await signInAs(oidc, "oidc", taken, uniqueEmail());
    const other = await client(app, appId).register();
    const start = await client(app, appId).post(
      "/v1/auth/identities/link/oidc",
      { redirectTo: RETURN },
      other.accessToken,
    );
    const { url } = (await start.json()) as { url: string };
    await script(oidc, { sub: taken, email: uniqueEmail(), emailVerified: true });
    expect(returned(await callback(app, await visitProvider(url))).get("error")).toBe("identity_taken");
  });

  it("refuses to unlink another user's identity, and an unknown one", async () => {
    const mine = await signInAs(oidc, "oidc", subject(), uniqueEmail());
    const theirs = await signInAs(oidc, "oidc", subject(), uniqueEmail());
    const [their] = await query<{ id: string }>(
      sql`select id from identities where user_id = ${theirs.user.id}::uuid`,
    );
    const api = client(app, appId);
    expect(await errorCode(await api.del(`/v1/auth/identities/${their?.id}`, mine.accessToken))).toBe(
      "identity_not_found",
    );
    expect(
      await errorCode(await api.del(`/v1/auth/identities/${crypto.randomUUID()}`, mine.accessToken)),
    ).toBe("identity_not_found");
  });

  it("refuses a link return URL not on the list", async () => {
    const session = await client(app, appId).register();
    const start = await client(app, appId).post(
      "/v1/auth/identities/link/oidc",
      { redirectTo: "https://evil.example.com/" },
      session.accessToken,
    );
    expect(await errorCode(start)).toBe("redirect_not_allowed");
  });
});
