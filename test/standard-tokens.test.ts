/**
 * Standard clients as judges: oauth4webapi's RFC 7662 functions must accept Turkey's
 * introspection answers, and its RFC 9068 resource-server check must accept Turkey's access
 * tokens, with Turkey's issuer and JWKS (an asymmetric JWT_PRIVATE_KEY: a resource server
 * cannot verify HS256 without the secret). Turkey's own verifier requires `typ: at+jwt`.
 */
import { decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from "jose";
import * as oauth from "oauth4webapi";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { forgetAppKeys } from "../src/admin/app-keys";
import { createApp } from "../src/app";
import { LEGACY_TYP_ISSUED_BEFORE } from "../src/auth/access-tokens";
import { forgetRevocations } from "../src/revocation";
import { basic, createAppKey } from "./support/app-keys";
import { createTestApp, errorCode, manualClock, PASSWORD, uniqueEmail } from "./support/fixtures";
import { bindings, postJson, send } from "./support/worker";

const ISSUER = "https://auth.turkey.test";
const app = createApp();
let appId: string;
let otherAppId: string;
let key: string;
let otherKey: string;
let overrides: Record<string, string>;

beforeAll(async () => {
  appId = await createTestApp("standard");
  otherAppId = await createTestApp("standard-other");
  key = (await createAppKey(appId, "resource-server")).key;
  otherKey = (await createAppKey(otherAppId)).key;
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  overrides = { JWT_PRIVATE_KEY: JSON.stringify(await exportJWK(privateKey)), JWT_ISSUER: ISSUER };
});
afterEach(() => {
  forgetRevocations();
  forgetAppKeys();
});

const server: oauth.AuthorizationServer = {
  issuer: ISSUER,
  introspection_endpoint: `${ISSUER}/v1/auth/introspect`,
  jwks_uri: `${ISSUER}/.well-known/jwks.json`,
};

/** oauth4webapi's requests go to the Worker in this test, with the test's bindings. */
const options = {
  [oauth.customFetch]: (url: string, init: RequestInit) => send(app, url, init, overrides),
};

async function signIn(forApp = appId) {
  const response = await send(
    app,
    "/v1/auth/register",
    postJson({ email: uniqueEmail(), password: PASSWORD }, { "x-app-id": forApp }),
    overrides,
  );
  expect(response.status).toBe(201);
  return (await response.json()) as { accessToken: string; user: { id: string } };
}

async function introspect(token: string, auth = oauth.ClientSecretBasic(key), clientId = appId) {
  const request = await oauth.introspectionRequest(server, { client_id: clientId }, auth, token, options);
  return oauth.processIntrospectionResponse(server, { client_id: clientId }, request);
}

describe("RFC 7662 introspection with an app key", () => {
  it("answers RFC 7662's members and how the user signed in, which oauth4webapi accepts", async () => {
    const { accessToken, user } = await signIn();
    const answer = await introspect(accessToken);
    expect(Object.keys(answer).sort()).toEqual(
      ["active", "aal", "amr", "aud", "client_id", "exp", "iat", "iss", "jti", "sub", "token_type"].sort(),
    );
    expect(answer).toMatchObject({
      active: true,
      amr: ["pwd"],
      aal: 1,
      client_id: appId,
      token_type: "Bearer",
      sub: user.id,
      aud: appId,
      iss: ISSUER,
    });
  });

  it("authenticates with the key as Bearer too, and takes token_type_hint", async () => {
    const { accessToken } = await signIn();
    const auth: oauth.ClientAuth = (_as, _client, _body, headers) => {
      headers.set("authorization", `Bearer ${key}`);
    };
    const answer = await introspect(accessToken, auth);
    expect(answer.active).toBe(true);
    const hinted = await send(
      app,
      "/v1/auth/introspect",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(appId, key) },
        body: new URLSearchParams({ token: accessToken, token_type_hint: "access_token" }),
      },
      overrides,
    );
    expect(((await hinted.json()) as { active: boolean }).active).toBe(true);
  });

  it("is just {active: false} for a revoked, foreign or malformed token", async () => {
    const mine = await signIn();
    const theirs = await signIn(otherAppId);
    const logout = await send(
      app,
      "/v1/auth/logout-all",
      { method: "POST", headers: { "x-app-id": appId, authorization: `Bearer ${mine.accessToken}` } },
      overrides,
    );
    expect(logout.status).toBe(204);
    forgetRevocations();
    for (const token of [mine.accessToken, theirs.accessToken, "not-a-token"]) {
      const answer = await introspect(token);
      expect(answer).toEqual({ active: false });
    }
    // The other app's key sees its own token, never this app's.
    const fresh = await signIn();
    expect(await introspect(fresh.accessToken, oauth.ClientSecretBasic(otherKey), otherAppId)).toEqual({
      active: false,
    });
  });

  it("refuses the form without a valid key of the app", async () => {
    const { accessToken } = await signIn();
    const form = (headers: Record<string, string>) =>
      send(
        app,
        "/v1/auth/introspect",
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
          body: new URLSearchParams({ token: accessToken }),
        },
        overrides,
      );
    expect(await errorCode(await form({ "x-app-id": appId }))).toBe("app_key_required");
    expect(await errorCode(await form({ authorization: basic(appId, "wrong") }))).toBe("invalid_app_key");
    expect(await errorCode(await form({ authorization: basic(appId, otherKey) }))).toBe("invalid_app_key");
    const twice = await send(
      app,
      "/v1/auth/introspect",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(appId, key) },
        body: `token=${accessToken}&token=${accessToken}`,
      },
      overrides,
    );
    expect(await errorCode(twice)).toBe("validation_failed");
  });

  it("keeps answering the legacy JSON form with X-App-Id only", async () => {
    const { accessToken, user } = await signIn();
    const legacy = await send(
      app,
      "/v1/auth/introspect",
      postJson({ token: accessToken }, { "x-app-id": appId }),
      overrides,
    );
    expect(await legacy.json()).toMatchObject({ active: true, sub: user.id, sid: expect.any(String) });
  });
});

describe("RFC 9068 access tokens", () => {
  it("carry typ at+jwt and client_id, and oauth4webapi's validateJwtAccessToken accepts them", async () => {
    const { accessToken, user } = await signIn();
    expect(decodeProtectedHeader(accessToken).typ).toBe("at+jwt");
    const request = new Request("https://api.example.com/orders", {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    const claims = await oauth.validateJwtAccessToken(server, request, appId, options);
    expect(claims).toMatchObject({ sub: user.id, client_id: appId, aud: appId, iss: ISSUER });
    // …and a token of another app is refused for this audience.
    const theirs = await signIn(otherAppId);
    const foreign = new Request("https://api.example.com/orders", {
      headers: { authorization: `Bearer ${theirs.accessToken}` },
    });
    await expect(oauth.validateJwtAccessToken(server, foreign, appId, options)).rejects.toThrow();
  });

  describe("Turkey's verifier", () => {
    const secret = new TextEncoder().encode(String(bindings.JWT_SECRET));
    const claims = (iat: number, extra: Record<string, unknown> = {}) => ({
      sub: crypto.randomUUID(),
      aud: appId,
      iss: "turkey",
      iat,
      exp: iat + 600,
      jti: crypto.randomUUID(),
      sid: crypto.randomUUID(),
      email: "someone@example.com",
      email_verified: true,
      ...extra,
    });
    const sign = (typ: string, payload: Record<string, unknown>) =>
      new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ }).sign(secret);
    const introspectAt = async (at: number, token: string) => {
      const clock = manualClock(new Date(at * 1000));
      const response = await send(
        createApp({ clock: clock.now }),
        "/v1/auth/introspect",
        postJson({ token }, { "x-app-id": appId }),
      );
      return ((await response.json()) as { active: boolean }).active;
    };

    it("requires typ at+jwt with client_id = the app", async () => {
      const now = Math.floor(Date.now() / 1000);
      expect(await introspectAt(now, await sign("at+jwt", claims(now, { client_id: appId })))).toBe(true);
      expect(await introspectAt(now, await sign("at+jwt", claims(now)))).toBe(false);
      expect(await introspectAt(now, await sign("at+jwt", claims(now, { client_id: otherAppId })))).toBe(
        false,
      );
      const later = LEGACY_TYP_ISSUED_BEFORE + 60;
      expect(await introspectAt(later, await sign("JWT", claims(later)))).toBe(false);
      expect(await introspectAt(later, await sign("id_token+jwt", claims(later)))).toBe(false);
    });

    it("accepts the old typ JWT only on tokens issued before the cut-over", async () => {
      const before = LEGACY_TYP_ISSUED_BEFORE - 60;
      expect(await introspectAt(before, await sign("JWT", claims(before)))).toBe(true);
      // Even then, never with a client_id: new tokens always carry at+jwt.
      expect(await introspectAt(before, await sign("JWT", claims(before, { client_id: appId })))).toBe(false);
      const after = LEGACY_TYP_ISSUED_BEFORE;
      expect(await introspectAt(after, await sign("JWT", claims(after)))).toBe(false);
    });
  });
});
