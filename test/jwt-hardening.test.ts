/** Every way an access token can be forged or bent is refused with a 401 code, never a 500. */
import { base64url, exportJWK, generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { client, createTestApp, type Tokens } from "./support/fixtures";
import { bindings } from "./support/worker";

const app = createApp();
const SECRET = new TextEncoder().encode(String(bindings.JWT_SECRET));
let appId: string;
let tokens: Tokens;
let good: Record<string, unknown>;

beforeAll(async () => {
  appId = await createTestApp("jwt");
  tokens = await client(app, appId).register();
  const [, payload] = tokens.accessToken.split(".");
  good = JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? "")));
});

const now = () => Math.floor(Date.now() / 1000);
const encode = (value: unknown) => base64url.encode(JSON.stringify(value));

function sign(claims: Record<string, unknown>, alg = "HS256", key: Uint8Array | CryptoKey = SECRET) {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: "at+jwt" }).sign(key);
}

async function expectRefused(token: string, code: "token_invalid" | "token_expired") {
  const response = await client(app, appId).get("/v1/auth/me", token);
  expect(response.status).toBe(401);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
  const introspection = await client(app, appId).post("/v1/auth/introspect", { token });
  expect(await introspection.json()).toEqual({ active: false });
}

describe("JWT verification", () => {
  it("accepts the genuine token (control)", async () => {
    expect((await client(app, appId).get("/v1/auth/me", tokens.accessToken)).status).toBe(200);
    expect((await client(app, appId).get("/v1/auth/me", await sign(good))).status).toBe(200);
  });

  it("refuses alg: none", async () => {
    await expectRefused(`${encode({ alg: "none", typ: "JWT" })}.${encode(good)}.`, "token_invalid");
  });

  it("refuses another HMAC algorithm with the right secret", async () => {
    await expectRefused(await sign(good, "HS512"), "token_invalid");
  });

  it("refuses an asymmetric algorithm", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    await expectRefused(await sign(good, "ES256", privateKey), "token_invalid");
  });

  it("refuses key confusion: HS256 keyed with a published public key", async () => {
    const { publicKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk = new TextEncoder().encode(JSON.stringify(await exportJWK(publicKey)));
    await expectRefused(await sign(good, "HS256", jwk), "token_invalid");
  });

  it("refuses a wrong issuer", async () => {
    await expectRefused(await sign({ ...good, iss: "someone-else" }), "token_invalid");
  });

  it("refuses a wrong audience", async () => {
    await expectRefused(await sign({ ...good, aud: "another-app" }), "token_invalid");
  });

  it("refuses a not-before beyond the allowed skew", async () => {
    await expectRefused(await sign({ ...good, nbf: now() + 600 }), "token_invalid");
  });

  it("refuses an issued-at in the future beyond the allowed skew", async () => {
    await expectRefused(await sign({ ...good, iat: now() + 600 }), "token_invalid");
  });

  it("refuses an expired token with token_expired", async () => {
    await expectRefused(await sign({ ...good, iat: now() - 3600, exp: now() - 120 }), "token_expired");
  });

  it("refuses a tampered payload", async () => {
    const [header, , signature] = tokens.accessToken.split(".");
    const forged = `${header}.${encode({ ...good, sub: crypto.randomUUID() })}.${signature}`;
    await expectRefused(forged, "token_invalid");
  });

  it("refuses a truncated token", async () => {
    await expectRefused(tokens.accessToken.slice(0, -10), "token_invalid");
    await expectRefused(tokens.accessToken.split(".").slice(0, 2).join("."), "token_invalid");
  });

  it("refuses an oversized token before parsing it", async () => {
    await expectRefused(await sign({ ...good, padding: "x".repeat(6000) }), "token_invalid");
  });

  it("refuses tokens missing the claims Turkey relies on", async () => {
    const { sid: _sid, ...withoutSession } = good;
    await expectRefused(await sign(withoutSession), "token_invalid");
    await expectRefused(await sign({ ...good, email_verified: "yes" }), "token_invalid");
  });

  it("refuses non-JWT garbage", async () => {
    for (const garbage of ["garbage", "a.b.c", "....", "eyJ.eyJ.sig", "%00%00", "🦃.🦃.🦃"]) {
      await expectRefused(garbage, "token_invalid");
    }
  });
});
