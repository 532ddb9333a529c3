/**
 * The load scenarios: one request shape each, built once so that state carried from request
 * to request (refresh chains, unique emails) runs on from the warm-up into the measurement.
 */
import type autocannon from "autocannon";
import { type Fixtures, jsonHeaders, PASSWORD } from "./fixtures";
import type { ScenarioName } from "./types";

export interface Scenario {
  name: ScenarioName;
  baseUrl: string;
  request: autocannon.Request;
}

export interface Targets {
  turkeyUrl: string;
  /** The same Turkey with PASSWORD_HASH=scrypt. */
  turkeyScryptUrl: string;
  ceilingUrl: string;
}

export function buildScenarios(targets: Targets, fixtures: Fixtures): Scenario[] {
  const turkey = (
    name: ScenarioName,
    request: autocannon.Request,
    baseUrl = targets.turkeyUrl,
  ): Scenario => ({
    name,
    baseUrl,
    request,
  });
  const scrypt = targets.turkeyScryptUrl;
  return [
    { name: "ceiling", baseUrl: targets.ceilingUrl, request: { method: "GET", path: "/" } },
    turkey("health", { method: "GET", path: "/health" }),
    turkey("introspect-valid", introspect(fixtures.accessToken)),
    turkey("introspect-revoked", introspect(fixtures.revokedToken)),
    turkey("me", { method: "GET", path: "/v1/auth/me", headers: jsonHeaders(fixtures.accessToken) }),
    turkey("refresh", refreshChains(fixtures.refreshTokens)),
    turkey("login", post("/v1/auth/login", { email: fixtures.email, password: PASSWORD })),
    turkey("register", uniqueRegistrations("load")),
    turkey(
      "login-scrypt",
      post("/v1/auth/login", { email: fixtures.scryptEmail, password: PASSWORD }),
      scrypt,
    ),
    turkey("register-scrypt", uniqueRegistrations("load-scrypt"), scrypt),
  ];
}

const post = (path: string, body: unknown): autocannon.Request => ({
  method: "POST",
  path,
  headers: jsonHeaders(),
  body: JSON.stringify(body),
});

const introspect = (token: string) => post("/v1/auth/introspect", { token });

/**
 * Every refresh spends its token, so each request takes an unspent one from a pool and puts
 * the successor back: one rotation chain per pre-made session, as clients refresh. The pool
 * holds more sessions than there are connections, so a request never waits for a token.
 */
function refreshChains(tokens: readonly string[]): autocannon.Request {
  const unspent = [...tokens];
  return {
    ...post("/v1/auth/refresh", {}),
    setupRequest: (request) => ({
      ...request,
      // An empty pool would mean lost chains; the stand-in is refused and counted as an error.
      body: JSON.stringify({ refreshToken: unspent.shift() ?? "no-unspent-token" }),
    }),
    onResponse: (status, body) => {
      if (status === 200) unspent.push((JSON.parse(body) as { refreshToken: string }).refreshToken);
    },
  };
}

/** A new email for every request; the run's timestamp keeps repeated runs apart. */
function uniqueRegistrations(prefix: string): autocannon.Request {
  const run = Date.now().toString(36);
  let next = 0;
  return {
    ...post("/v1/auth/register", {}),
    setupRequest: (request) => ({
      ...request,
      body: JSON.stringify({ email: `${prefix}-${run}-${next++}@example.com`, password: PASSWORD }),
    }),
  };
}
