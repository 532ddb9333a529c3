/** Middleware shared by the /v1 routes: which app is calling, and who (bearer token). */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import * as z from "zod/mini";
import { findApp } from "../apps/registry";
import type { Client } from "../audit";
import { type AccessClaims, verifyAccessToken } from "../auth/access-tokens";
import { type AuthContext, signingKey } from "../auth/session-context";
import type { AppEnv } from "../context";
import { openWorkerDatabase } from "../db";
import { createMailer } from "../email/mailer";
import { deliver } from "../email/outbox";
import { ApiError } from "../errors";
import { hitRateLimit, LOCKOUT, lockoutFor, rateLimitHeaders } from "../rate-limit";
import { isRevoked } from "../revocation";
import { documented } from "./contract";

const APP_ID = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/));

/** Every /v1 request names a registered app in X-App-Id. */
export const requireApp = createMiddleware<AppEnv>(async (c, next) => {
  const appId = APP_ID.safeParse(c.req.header("x-app-id"));
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

/** Signature and claims for the calling app first, then the revocation check. */
export async function verifyLiveToken(c: Context<AppEnv>, token: string): Promise<AccessClaims> {
  const { deps } = c.var;
  const now = deps.clock();
  const claims = await verifyAccessToken(token, signingKey(deps.config), c.var.app.id, now);
  const revoked = await isRevoked(
    { jti: claims.jti, expiresAt: new Date(claims.exp * 1000) },
    { kv: c.env.REVOCATIONS, db: () => deps.db, mode: deps.config.revocationCheck, now },
  );
  if (revoked) throw new ApiError("token_revoked");
  return claims;
}

/**
 * Counts the request against its (app, client IP) window: credential endpoints only, so app
 * backends calling introspect and users' bearer calls never use up sign-in attempts.
 */
export const rateLimited = createMiddleware<AppEnv>(async (c, next) => {
  const { config, clock } = c.var.deps;
  const result = await hitRateLimit(
    c.env.RATE_LIMITER,
    { appId: c.var.app.id, ip: clientOf(c).ip ?? "unknown" },
    { windowMs: config.rateLimitWindowMs, max: config.rateLimitMaxRequests },
    clock().getTime(),
  );
  if (!result) return next();
  const headers = rateLimitHeaders(result);
  if (!result.allowed) throw new ApiError("rate_limited", undefined, undefined, headers);
  await next();
  for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
});
documented(rateLimited, { errors: ["rate_limited"], headers: ["rateLimit"] });

export function clientOf(c: Context<AppEnv>): Client {
  return {
    ip: c.req.header("cf-connecting-ip") ?? null,
    userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null,
  };
}

/** The plain-valued context domain functions take. */
export function authContext(c: Context<AppEnv>): AuthContext {
  const { deps } = c.var;
  return {
    db: deps.db,
    config: deps.config,
    kv: c.env.REVOCATIONS,
    app: c.var.app,
    client: clientOf(c),
    now: deps.clock(),
    // Emails leave after the response; a failure is logged and audited by deliver().
    outbox: (email) =>
      c.executionCtx.waitUntil(deliver(createMailer(deps.config), email, () => openWorkerDatabase(c.env))),
    lockout: (email) =>
      lockoutFor(c.env.RATE_LIMITER, c.var.app.id, email, {
        ...LOCKOUT,
        threshold: deps.config.loginLockoutThreshold,
      }),
  };
}
