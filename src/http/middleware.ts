/** Middleware shared by the /v1 routes: which app is calling, and who (bearer token). */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import * as z from "zod/mini";
import { type AppKey, findAppKey, readAppKeyCredential, touchAppKey } from "../admin/app-keys";
import { findApp } from "../apps/registry";
import type { Client } from "../audit";
import { type AccessClaims, verifyAccessToken } from "../auth/access-tokens";
import { type AuthContext, signingKey } from "../auth/session-context";
import type { AppEnv } from "../context";
import { openWorkerDatabase } from "../db";
import { createMailer } from "../email/mailer";
import { deliver } from "../email/outbox";
import { ApiError } from "../errors";
import {
  attemptGuard,
  clearAttempts,
  clientNetwork,
  hitRateLimit,
  type RateLimitSettings,
  rateLimitHeaders,
} from "../rate-limit";
import { ATTEMPT_POLICY } from "../rate-limit/attempts";
import { isRevoked } from "../revocation";
import { documented } from "./contract";

const APP_ID = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/));

/**
 * Every /v1 request names a registered app: in X-App-Id, or through the app key it presents
 * (an OAuth client sends no X-App-Id). Whether the key is valid is checked by requireAppKey.
 */
export const requireApp = createMiddleware<AppEnv>(async (c, next) => {
  const named = c.req.header("x-app-id") ?? readAppKeyCredential(c.req.header("authorization"))?.appId;
  const appId = APP_ID.safeParse(named);
  const { deps } = c.var;
  const app = appId.success ? await findApp(deps.db, appId.data, deps.clock().getTime()) : undefined;
  if (!app) throw new ApiError("unknown_app");
  c.set("app", app);
  await next();
});
// The registry is read from Postgres (cached in the isolate).
documented(requireApp, { security: "appId", errors: ["unknown_app", "database_unavailable"] });

/** Verifies the bearer token for the calling app, then asks whether it was revoked. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
  if (!match?.[1]) throw new ApiError("token_missing");
  c.set("claims", await verifyLiveToken(c, match[1]));
  await next();
});
documented(requireUser, {
  security: "bearer",
  errors: ["token_missing", "token_invalid", "token_expired", "token_revoked"],
});

/** App backends: an app key of the calling app, as Bearer or HTTP Basic. */
export const requireAppKey = createMiddleware<AppEnv>(async (c, next) => {
  c.set("appKey", await authenticateAppKey(c));
  await next();
});
documented(requireAppKey, {
  security: "appKey",
  errors: ["app_key_required", "invalid_app_key", "rate_limited"],
});

/**
 * The key presented in Authorization, if it is a live key of the calling app. Keys that fail
 * are counted per client network (a generous ceiling, like refresh misses): guessing 256
 * bits is hopeless, but each miss costs a query.
 */
export async function authenticateAppKey(c: Context<AppEnv>): Promise<AppKey> {
  const { deps } = c.var;
  const header = c.req.header("authorization");
  if (!header) throw new ApiError("app_key_required");
  const credential = readAppKeyCredential(header);
  const nowMs = deps.clock().getTime();
  const found =
    credential && credential.appId === c.var.app.id
      ? await findAppKey(deps.db, credential, nowMs)
      : undefined;
  if (!found) {
    await countAppKeyMiss(c);
    throw new ApiError("invalid_app_key");
  }
  if (found.stale) deps.defer(() => touchAppKey(deps.db, found.key.id, deps.clock()));
  return found.key;
}

async function countAppKeyMiss(c: Context<AppEnv>): Promise<void> {
  const { config } = c.var.deps;
  const result = await hitNetworkLimit(c, "app-key-miss", {
    windowMs: config.rateLimitWindowMs,
    max: config.rateLimitMaxRequests,
  });
  if (result && !result.allowed)
    throw new ApiError("rate_limited", undefined, undefined, rateLimitHeaders(result));
}

/** Signature and claims for the calling app first, then the revocation check. */
export async function verifyLiveToken(c: Context<AppEnv>, token: string): Promise<AccessClaims> {
  const { deps } = c.var;
  const now = deps.clock();
  const claims = await verifyAccessToken(
    token,
    signingKey(deps.config, () => deps.db),
    c.var.app.id,
    now,
  );
  const revoked = await isRevoked(
    { jti: claims.jti, expiresAt: new Date(claims.exp * 1000) },
    { kv: c.env.REVOCATIONS, db: () => deps.db, mode: deps.config.revocationCheck, now },
  );
  if (revoked) throw new ApiError("token_revoked");
  return claims;
}

/**
 * Counts the request against its (app, client network) window: credential endpoints only, so
 * app backends calling introspect and users' bearer calls never use up sign-in attempts.
 */
export const rateLimited = createMiddleware<AppEnv>(async (c, next) => {
  const headers = await countCredentialRequest(c);
  await next();
  for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
});
documented(rateLimited, { errors: ["rate_limited"], headers: ["rateLimit"] });

/**
 * Counts one request against the (app, client network) window of the credential endpoints;
 * rate_limited when over. Returns the RateLimit headers to answer with.
 */
export async function countCredentialRequest(c: Context<AppEnv>): Promise<Record<string, string>> {
  const { config } = c.var.deps;
  const result = await hitNetworkLimit(c, "ip", {
    windowMs: config.rateLimitWindowMs,
    max: config.rateLimitMaxRequests,
  });
  if (!result) return {};
  const headers = rateLimitHeaders(result);
  if (!result.allowed) throw new ApiError("rate_limited", undefined, undefined, headers);
  return headers;
}

/** Refresh tokens that match no session, per network: a generous ceiling, not a login budget. */
export const REFRESH_MISS_FACTOR = 10;

/** Counts a refresh token that matched no live session; rate_limited once the network is over its ceiling. */
export async function countRefreshMiss(c: Context<AppEnv>): Promise<void> {
  const { config } = c.var.deps;
  const result = await hitNetworkLimit(c, "refresh-miss", {
    windowMs: config.rateLimitWindowMs,
    max: config.rateLimitMaxRequests * REFRESH_MISS_FACTOR,
  });
  if (result && !result.allowed)
    throw new ApiError("rate_limited", undefined, undefined, rateLimitHeaders(result));
}

function hitNetworkLimit(c: Context<AppEnv>, scope: string, settings: RateLimitSettings) {
  const network = clientNetwork(clientOf(c).ip);
  const key = { scope, appId: c.var.app.id, network };
  return hitRateLimit(c.env.RATE_LIMITER, key, settings, c.var.deps.clock().getTime());
}

export function clientOf(c: Context<AppEnv>): Client {
  return {
    ip: c.req.header("cf-connecting-ip") ?? null,
    userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null,
  };
}

/** The plain-valued context domain functions take. */
export function authContext(c: Context<AppEnv>): AuthContext {
  const { deps } = c.var;
  const client = clientOf(c);
  const account = (email: string) => ({ appId: c.var.app.id, email });
  const policy = {
    ...ATTEMPT_POLICY,
    threshold: deps.config.loginLockoutThreshold,
    ceiling: deps.config.loginFailureCeiling,
  };
  return {
    db: deps.db,
    config: deps.config,
    kv: c.env.REVOCATIONS,
    app: c.var.app,
    client,
    origin: new URL(c.req.url).origin,
    now: deps.clock(),
    // Emails leave after the response; a failure is logged and audited by deliver().
    outbox: (email) =>
      deps.defer(() => deliver(createMailer(deps.config), email, () => openWorkerDatabase(c.env))),
    attempts: (email) => attemptGuard(c.env.RATE_LIMITER, account(email), clientNetwork(client.ip), policy),
    clearAttempts: (email) => clearAttempts(c.env.RATE_LIMITER, account(email)),
  };
}
