/** Asymmetric signing (JWT_PRIVATE_KEY) and the JWKS endpoint. */
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { ConfigError, parseConfig } from "../src/config";
import { createTestApp, errorCode, PASSWORD, uniqueEmail } from "./support/fixtures";
import { bindings, postJson, send } from "./support/worker";

const app = createApp();
let appId: string;

beforeAll(async () => {
  appId = await createTestApp("keys");
});

async function privateJwk(alg: "ES256" | "EdDSA") {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  return JSON.stringify(await exportJWK(privateKey));
}

describe.each(["ES256", "EdDSA"] as const)("with a %s JWT_PRIVATE_KEY", (alg) => {
  let overrides: Record<string, string>;
  beforeAll(async () => {
    overrides = { JWT_PRIVATE_KEY: await privateJwk(alg) };
  });

  it("signs access tokens with it, with a kid that the JWKS endpoint publishes", async () => {
    const registered = await send(
      app,
      "/v1/auth/register",
      postJson({ email: uniqueEmail(), password: PASSWORD }, { "x-app-id": appId }),
      overrides,
    );
    expect(registered.status).toBe(201);
    const { accessToken } = (await registered.json()) as { accessToken: string };
    const header = decodeProtectedHeader(accessToken);
    expect(header.alg).toBe(alg);

    const jwksResponse = await send(app, "/.well-known/jwks.json", {}, overrides);
    expect(jwksResponse.status).toBe(200);
    const jwks = (await jwksResponse.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: header.kid, alg, use: "sig" });
    expect(jwks.keys[0]?.d).toBeUndefined();

    // An app backend can verify the token offline with the published key.
    const { payload } = await jwtVerify(accessToken, createLocalJWKSet(jwks as never), { audience: appId });
    expect(payload.aud).toBe(appId);

    const me = await send(
      app,
      "/v1/auth/me",
      { headers: { "x-app-id": appId, authorization: `Bearer ${accessToken}` } },
      overrides,
    );
    expect(me.status).toBe(200);
  });

  it("refuses an HS256 token made with JWT_SECRET: only the configured algorithm counts", async () => {
    const forged = await new SignJWT({
      sid: crypto.randomUUID(),
      email: "a@example.com",
      email_verified: true,
      client_id: appId,
    })
      // Well-formed in every way but the algorithm.
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .setIssuer("turkey")
      .setSubject(crypto.randomUUID())
      .setAudience(appId)
      .setIssuedAt()
      .setExpirationTime("5m")
      .setJti(crypto.randomUUID())
      .sign(new TextEncoder().encode(String(bindings.JWT_SECRET)));
    const response = await send(
      app,
      "/v1/auth/me",
      { headers: { "x-app-id": appId, authorization: `Bearer ${forged}` } },
      overrides,
    );
    expect(await errorCode(response)).toBe("token_invalid");
  });
});

describe("JWKS with the default HS256", () => {
  it("publishes no keys: the secret is never public", async () => {
    const response = await send(app, "/.well-known/jwks.json");
    expect(await response.json()).toEqual({ keys: [] });
  });
});

describe("JWT_PRIVATE_KEY validation", () => {
  it.each([
    ["not json", "not-json"],
    ["a public key only", JSON.stringify({ kty: "EC", crv: "P-256", x: "x", y: "y" })],
    ["an unsupported curve", JSON.stringify({ kty: "EC", crv: "P-384", x: "x", y: "y", d: "d" })],
  ])("refuses %s, naming the key but not the value", (_label, value) => {
    try {
      parseConfig({ JWT_SECRET: "dev", JWT_PRIVATE_KEY: value });
      throw new Error("accepted");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).keys).toEqual(["JWT_PRIVATE_KEY"]);
      expect((error as ConfigError).message).not.toContain(value);
    }
  });
});
