/**
 * The HTTP surface of Turkey: middleware, the whole route table, and the one error writer.
 * Handlers stay thin; the work is done by domain functions that take plain arguments.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import pkg from "../package.json";
import { signingKey } from "./auth/session-context";
import { JWKS_MAX_AGE_SECONDS, publishedKeys } from "./auth/signing-keys";
import { ConfigError } from "./config";
import { type AppEnv, type AppOptions, createDeps } from "./context";
import { ApiError } from "./errors";
import { checkDatabaseCached, formatUptime, type Health } from "./health";
import { documented, endpoint } from "./http/contract";
import { requireApp } from "./http/middleware";
import * as schemas from "./http/schemas";
import { describeError, log } from "./log";
import { accountRoutes } from "./routes/account";
import { adminRoutes } from "./routes/admin";
import { authRoutes } from "./routes/auth";
import { docsRoutes } from "./routes/docs";
import { emailLoginRoutes } from "./routes/email-login";
import { mfaRoutes } from "./routes/mfa";
import { identityRoutes, oauthBrowserRoutes } from "./routes/oauth";
import { pageRoutes } from "./routes/pages";
import { passkeyRoutes } from "./routes/passkeys";
import { tokenRoutes } from "./routes/token";
import "./validation";

const VERSION: string = pkg.version;
const MAX_BODY_BYTES = 16 * 1024;

// Workers freeze the clock at global scope, so the isolate's start is its first request.
let startedAtMs: number | undefined;

const noStore = createMiddleware(async (c, next) => {
  await next();
  c.res.headers.set("Cache-Control", "no-store");
});

/** Builds the request's dependencies and releases them once the response is done. */
function provideDeps(options: AppOptions) {
  return createMiddleware<AppEnv>(async (c, next) => {
    startedAtMs ??= Date.now();
    const deps = createDeps(c.env, options);
    c.set("deps", deps);
    try {
      await next();
    } finally {
      c.executionCtx.waitUntil(deps.close());
    }
  });
}

export function createApp(options: AppOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    await next();
    c.res.headers.set("X-Content-Type-Options", "nosniff");
  });
  // Tokens and user data must never sit in a shared or browser cache; first, so even an
  // answer about bad configuration carries it.
  app.use("/v1/*", documented(noStore, { headers: ["noStore"] }));
  // The configuration is parsed here; anything unexpected anywhere ends as internal_error.
  app.use(documented(provideDeps(options), { errors: ["configuration_error", "internal_error"] }));
  app.use(
    cors({
      // Exactly ALLOWED_ORIGINS; any other origin gets no CORS headers at all.
      origin: (origin, c) => (c.var.deps.config.allowedOrigins.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "DELETE"],
      allowHeaders: ["Content-Type", "Authorization", "X-App-Id"],
      exposeHeaders: ["Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"],
      maxAge: 600,
    }),
  );
  app.use(
    documented(
      bodyLimit({
        maxSize: MAX_BODY_BYTES,
        onError: () => {
          throw new ApiError("payload_too_large");
        },
      }),
      { bodyErrors: ["payload_too_large"] },
    ),
  );

  app.get(
    "/health",
    endpoint({
      summary: "Health of the Worker and its database",
      responses: { 200: schemas.health, 503: schemas.health },
      headers: ["noStore"],
    }),
    async (c) => {
      const { deps } = c.var;
      const databaseKey = c.env.HYPERDRIVE?.connectionString ?? c.env.DATABASE_URL ?? "";
      const database = await checkDatabaseCached(
        databaseKey,
        () => deps.db,
        deps.config,
        deps.clock().getTime(),
      );
      const uptimeSeconds = Math.floor((Date.now() - (startedAtMs ?? Date.now())) / 1000);
      const report: Health = {
        status: database.connected ? "healthy" : "unhealthy",
        database: database.connected ? "connected" : "disconnected",
        uptime: formatUptime(uptimeSeconds),
        uptimeSeconds,
        version: VERSION,
        lastCleanupAt: (database.connected && database.lastCleanupAt?.toISOString()) || null,
        ...(database.connected ? { cleanupBacklog: database.backlog } : {}),
      };
      return c.json(report, database.connected ? 200 : 503, { "Cache-Control": "no-store" });
    },
  );

  // Public keys for app backends that verify signatures themselves; empty with HS256 alone.
  app.get(
    "/.well-known/jwks.json",
    endpoint({
      summary: "Public keys that verify access tokens",
      responses: { 200: schemas.jwks },
      headers: ["publicCache"],
    }),
    async (c) => {
      const { deps } = c.var;
      const keys = await publishedKeys(
        signingKey(deps.config, () => deps.db),
        deps.clock(),
      );
      return c.json({ keys }, 200, { "Cache-Control": `public, max-age=${JWKS_MAX_AGE_SECONDS}` });
    },
  );
  app.route("/", docsRoutes);

  // Browser navigations name their app in the query or the sign-in's state, not in X-App-Id.
  app.route("/v1/auth/oauth", oauthBrowserRoutes);
  app.use("/v1/*", requireApp);
  app.route("/v1/auth", authRoutes);
  app.route("/v1/auth/mfa", mfaRoutes);
  app.route("/v1/auth/passkeys", passkeyRoutes);
  app.route("/v1/admin", adminRoutes);
  app.route("/v1/auth", accountRoutes);
  app.route("/v1/auth", emailLoginRoutes);
  app.route("/v1/auth", tokenRoutes);
  app.route("/v1/auth", identityRoutes);
  app.route("/pages", pageRoutes);

  app.notFound(() => {
    throw new ApiError("not_found");
  });
  app.onError((error, c) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500) log.error("request failed", { path: c.req.path, ...describeError(error) });
    return c.json(apiError.toBody(), apiError.status, apiError.headers);
  });

  return app;
}

/** Maps anything thrown to the public error; internals never reach the response. */
function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ConfigError) return new ApiError("configuration_error");
  if (error instanceof HTTPException && error.status === 413) return new ApiError("payload_too_large");
  if (isDatabaseUnreachable(error)) {
    return new ApiError("database_unavailable", undefined, undefined, {
      "Retry-After": String(DATABASE_RETRY_SECONDS),
    });
  }
  return new ApiError("internal_error");
}

/** What a client is told to wait when Postgres cannot be reached (a restart or failover). */
const DATABASE_RETRY_SECONDS = 5;

// Socket errors, and Postgres's connection-exception and shutdown classes (SQLSTATE 08, 57P).
const UNREACHABLE_CODES = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|08\w{3}|57P0[1-3])$/;
const UNREACHABLE_MESSAGES =
  /connection terminated|timeout exceeded when trying to connect|connection refused|cannot connect to the specified address/i;

/** True when the error, or one it wraps, says the database could not be reached. */
function isDatabaseUnreachable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === "string" && UNREACHABLE_CODES.test(code)) return true;
    if (UNREACHABLE_MESSAGES.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}
