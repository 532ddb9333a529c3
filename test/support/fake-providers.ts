/**
 * Small stand-ins for social sign-in providers, served by one Node server for the workerd
 * suite: an OpenID Connect provider under `/<name>` (discovery, JWKS, authorize, token,
 * userinfo) whose answers a test scripts per client id, including crafted ID tokens (wrong
 * aud, iss, nonce, expired, signed by a key not in its JWKS); and GitHub under `/github`
 * (OAuth endpoints and the REST API at `/github/api/v3`), checking requests as GitHub does.
 * Both check client secrets and PKCE verifiers like the real ones.
 *
 * A test scripts a client with `POST /script` (JSON `Script`); an authorize request for that
 * client then signs in as the scripted account at once (no login page).
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from "jose";

export interface Script {
  clientId: string;
  clientSecret: string;
  sub: string;
  email?: string;
  emailVerified?: boolean;
  name?: string;
  /** The provider refuses consent. */
  deny?: boolean;
  /** How the ID token is spoiled. */
  tamper?: "aud" | "iss" | "nonce" | "expired" | "signature";
  /** GitHub: the primary email is not verified. */
  unverifiedPrimary?: boolean;
  /** Apple: the client secret is a JWT signed with the app's key; checked like Apple does. */
  appleKey?: { teamId: string; keyId: string; publicJwk: JWK };
}

interface Grant {
  script: Script;
  redirectUri: string;
  codeChallenge: string | null;
  nonce: string | null;
  issuer: string;
}

interface Keys {
  privateKey: CryptoKey;
  rogueKey: CryptoKey;
  jwk: JWK;
}

export async function startFakeProviders(): Promise<{ url: string; close(): Promise<void> }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const rogue = await generateKeyPair("ES256");
  const keys: Keys = {
    privateKey,
    rogueKey: rogue.privateKey,
    jwk: { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" },
  };
  const scripts = new Map<string, Script>();
  const grants = new Map<string, Grant>();
  const tokens = new Map<string, Script>();
  const server = createServer((request, response) => {
    const state = { scripts, grants, tokens, keys, base: baseOf(request) };
    handle(request, response, state).catch((error: unknown) =>
      reply(response, 500, { error: "server_error", error_description: String(error) }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface State {
  scripts: Map<string, Script>;
  grants: Map<string, Grant>;
  tokens: Map<string, Script>;
  keys: Keys;
  base: string;
}

function baseOf(request: IncomingMessage): string {
  return `http://${request.headers.host}`;
}

async function handle(request: IncomingMessage, response: ServerResponse, state: State): Promise<void> {
  const url = new URL(request.url ?? "/", state.base);
  if (request.method === "POST" && url.pathname === "/script") {
    const script = JSON.parse(await readBody(request)) as Script;
    state.scripts.set(script.clientId, script);
    return reply(response, 204);
  }
  if (url.pathname.startsWith("/github/")) return handleGithub(request, response, url, state);
  const [, name, ...rest] = url.pathname.split("/");
  const issuer = `${state.base}/${name}`;
  const path = `/${rest.join("/")}`;
  if (path === "/.well-known/openid-configuration") {
    const metadata = discovery(issuer);
    // Apple takes the client secret in the form only.
    if (name === "apple") metadata.token_endpoint_auth_methods_supported = ["client_secret_post"];
    // A provider whose token endpoint is down (nothing listens on port 9).
    if (name === "token-down") metadata.token_endpoint = "http://127.0.0.1:9/token";
    return reply(response, 200, metadata);
  }
  if (path === "/jwks") return reply(response, 200, { keys: [state.keys.jwk] });
  if (path === "/authorize") return authorize(response, url, state, issuer);
  if (path === "/token" && request.method === "POST") return token(request, response, state);
  if (path === "/userinfo") return userinfo(request, response, state);
  return reply(response, 404, { error: "not_found" });
}

function discovery(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ["code"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["ES256"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    code_challenge_methods_supported: ["S256"],
  };
}

function authorize(response: ServerResponse, url: URL, state: State, issuer: string) {
  const params = url.searchParams;
  const script = state.scripts.get(params.get("client_id") ?? "");
  const redirectUri = params.get("redirect_uri");
  if (!script || !redirectUri || params.get("response_type") !== "code")
    return reply(response, 400, { error: "invalid_request" });
  const back = new URL(redirectUri);
  back.searchParams.set("state", params.get("state") ?? "");
  if (script.deny) {
    back.searchParams.set("error", "access_denied");
    return redirect(response, back);
  }
  const code = randomBytes(16).toString("hex");
  state.grants.set(code, {
    script,
    redirectUri,
    codeChallenge: params.get("code_challenge_method") === "S256" ? params.get("code_challenge") : null,
    nonce: params.get("nonce"),
    issuer,
  });
  back.searchParams.set("code", code);
  return redirect(response, back);
}

/** The client's id and secret, from Basic or the form, as the token endpoint takes them. */
function clientCredentials(request: IncomingMessage, form: URLSearchParams) {
  const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? "");
  if (basic?.[1]) {
    const [id, secret] = Buffer.from(basic[1], "base64").toString().split(":").map(decodeURIComponent);
    return { id, secret };
  }
  return { id: form.get("client_id") ?? undefined, secret: form.get("client_secret") ?? undefined };
}

/** Apple's check of a client secret: an ES256 JWT from the team, about the client, for Apple. */
async function isAppleSecret(secret: string | undefined, grant: Grant): Promise<boolean> {
  const key = grant.script.appleKey;
  if (!key || !secret) return false;
  try {
    const { protectedHeader } = await jwtVerify(secret, await importJWK(key.publicJwk, "ES256"), {
      issuer: key.teamId,
      subject: grant.script.clientId,
      audience: grant.issuer,
      algorithms: ["ES256"],
    });
    return protectedHeader.kid === key.keyId;
  } catch {
    return false;
  }
}

/** Spends the code after the checks a real provider makes; an OAuth error answer otherwise. */
async function redeem(request: IncomingMessage, form: URLSearchParams, state: State) {
  const code = form.get("code") ?? "";
  const grant = state.grants.get(code);
  state.grants.delete(code);
  const client = clientCredentials(request, form);
  if (!grant) return { error: "invalid_grant" as const };
  const secretOk = grant.script.appleKey
    ? await isAppleSecret(client.secret, grant)
    : client.secret === grant.script.clientSecret;
  if (client.id !== grant.script.clientId || !secretOk) return { error: "invalid_client" as const };
  if (form.get("redirect_uri") !== grant.redirectUri) return { error: "invalid_grant" as const };
  const verifier = form.get("code_verifier");
  const challenge = verifier ? createHash("sha256").update(verifier).digest("base64url") : null;
  if (!grant.codeChallenge || challenge !== grant.codeChallenge) return { error: "invalid_grant" as const };
  return { grant };
}

async function token(request: IncomingMessage, response: ServerResponse, state: State) {
  const form = new URLSearchParams(await readBody(request));
  if (form.get("grant_type") !== "authorization_code")
    return reply(response, 400, { error: "unsupported_grant_type" });
  const redeemed = await redeem(request, form, state);
  if (!redeemed.grant) return reply(response, redeemed.error === "invalid_client" ? 401 : 400, redeemed);
  const { script } = redeemed.grant;
  const accessToken = randomBytes(16).toString("hex");
  state.tokens.set(accessToken, script);
  return reply(response, 200, {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: 3600,
    id_token: await idToken(redeemed.grant, state.keys),
  });
}

async function idToken(grant: Grant, keys: Keys): Promise<string> {
  const { script } = grant;
  const nowSeconds = Math.floor(Date.now() / 1000);
  const claims = {
    ...(script.email ? { email: script.email, email_verified: script.emailVerified ?? false } : {}),
    ...(script.name ? { name: script.name } : {}),
    nonce: script.tamper === "nonce" ? "another-nonce" : (grant.nonce ?? undefined),
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(script.tamper === "iss" ? `${grant.issuer}-elsewhere` : grant.issuer)
    .setSubject(script.sub)
    .setAudience(script.tamper === "aud" ? "another-client" : script.clientId)
    .setIssuedAt(script.tamper === "expired" ? nowSeconds - 7200 : nowSeconds)
    .setExpirationTime(script.tamper === "expired" ? nowSeconds - 3600 : nowSeconds + 600)
    .sign(script.tamper === "signature" ? keys.rogueKey : keys.privateKey);
}

function bearer(request: IncomingMessage, state: State): Script | undefined {
  const match = /^Bearer (.+)$/i.exec(request.headers.authorization ?? "");
  return match?.[1] ? state.tokens.get(match[1]) : undefined;
}

function userinfo(request: IncomingMessage, response: ServerResponse, state: State) {
  const script = bearer(request, state);
  if (!script) return reply(response, 401, { error: "invalid_token" });
  return reply(response, 200, {
    sub: script.sub,
    ...(script.email ? { email: script.email, email_verified: script.emailVerified ?? false } : {}),
  });
}

/** GitHub: no OIDC; the token endpoint answers JSON only when asked, the API needs a User-Agent. */
async function handleGithub(request: IncomingMessage, response: ServerResponse, url: URL, state: State) {
  const path = url.pathname.slice("/github".length);
  if (path === "/login/oauth/authorize") return authorize(response, url, state, `${state.base}/github`);
  if (path === "/login/oauth/access_token" && request.method === "POST") {
    const form = new URLSearchParams(await readBody(request));
    const redeemed = await redeem(request, form, state);
    // GitHub answers errors with 200 and an error body.
    if (!redeemed.grant) return reply(response, 200, { error: redeemed.error });
    if (!String(request.headers.accept).includes("application/json"))
      return reply(response, 406, { error: "send Accept: application/json" });
    const accessToken = `gho_${randomBytes(16).toString("hex")}`;
    state.tokens.set(accessToken, redeemed.grant.script);
    return reply(response, 200, {
      access_token: accessToken,
      token_type: "bearer",
      scope: "read:user,user:email",
    });
  }
  if (!request.headers["user-agent"]) return reply(response, 403, { message: "User-Agent required" });
  const script = bearer(request, state);
  if (!script) return reply(response, 401, { message: "Bad credentials" });
  if (path === "/api/v3/user")
    return reply(response, 200, {
      id: Number(script.sub),
      login: `user${script.sub}`,
      name: script.name ?? null,
    });
  if (path === "/api/v3/user/emails") {
    const emails = script.email
      ? [
          {
            email: `${script.sub}@users.noreply.github.test`,
            primary: false,
            verified: true,
            visibility: null,
          },
          { email: script.email, primary: true, verified: !script.unverifiedPrimary, visibility: "public" },
        ]
      : [];
    return reply(response, 200, emails);
  }
  return reply(response, 404, { message: "Not Found" });
}

function redirect(response: ServerResponse, location: URL) {
  response.writeHead(302, { location: location.toString() });
  response.end();
}

function reply(response: ServerResponse, status: number, body?: unknown) {
  response.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
  response.end(body === undefined ? undefined : JSON.stringify(body));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on("end", () => resolve(body));
    request.on("error", reject);
  });
}
