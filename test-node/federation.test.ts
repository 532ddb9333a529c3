/**
 * Microsoft's multi-tenant endpoints (`common`, `organizations`) publish the issuer
 * `https://login.microsoftonline.com/{tenantid}/v2.0`; each ID token names its tenant in `tid`
 * and must carry that tenant's issuer. Checked here with oauth4webapi's own token processing,
 * the network replaced by canned answers.
 */
import * as oauth from "oauth4webapi";
import { describe, expect, it } from "vitest";
import { discover } from "../src/federation/servers";

const COMMON = "https://login.microsoftonline.com/common/v2.0";
const TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0";
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT = { client_id: "turkey-client" };

const discovery: typeof fetch = async () =>
  Response.json({
    issuer: TEMPLATE,
    authorization_endpoint: `${COMMON.replace("/v2.0", "")}/oauth2/v2.0/authorize`,
    token_endpoint: `${COMMON.replace("/v2.0", "")}/oauth2/v2.0/token`,
    jwks_uri: `${COMMON.replace("/v2.0", "")}/discovery/v2.0/keys`,
    id_token_signing_alg_values_supported: ["RS256"],
  });

/** A token response whose ID token has these claims (unsigned here: only the claims are judged). */
function tokenResponse(claims: Record<string, unknown>): Response {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const idToken = [
    part({ alg: "RS256", kid: "k" }),
    part({ aud: CLIENT.client_id, iat: now, exp: now + 600, sub: "s", nonce: "n", ...claims }),
    "c2lnbmF0dXJl",
  ].join(".");
  return Response.json({ access_token: "at", token_type: "Bearer", id_token: idToken });
}

async function accepts(claims: Record<string, unknown>): Promise<boolean> {
  const server = await discover(COMMON, false, discovery);
  return oauth
    .processAuthorizationCodeResponse(server, CLIENT, tokenResponse(claims), {
      expectedNonce: "n",
      requireIdToken: true,
    })
    .then(
      () => true,
      () => false,
    );
}

describe("Microsoft's multi-tenant issuer", () => {
  it("accepts the templated issuer in discovery", async () => {
    expect((await discover(COMMON, false, discovery)).issuer).toBe(TEMPLATE);
  });

  it("accepts an ID token whose issuer is the tenant it names", async () => {
    expect(await accepts({ tid: TENANT, iss: `https://login.microsoftonline.com/${TENANT}/v2.0` })).toBe(
      true,
    );
  });

  it("refuses an ID token whose issuer names another tenant, or the template itself", async () => {
    expect(await accepts({ tid: TENANT, iss: "https://login.microsoftonline.com/other/v2.0" })).toBe(false);
    expect(await accepts({ tid: TENANT, iss: TEMPLATE })).toBe(false);
    expect(await accepts({ iss: TEMPLATE })).toBe(false);
  });

  it("refuses a templated issuer from a provider that is not Microsoft's multi-tenant endpoint", async () => {
    await expect(discover("https://id.example.com", false, discovery)).rejects.toThrow();
  });
});
