/**
 * Configuration: the worker's variables parsed once into a typed object.
 * A bad value is reported by its key only — values may be secrets.
 */
import * as z from "zod/mini";
import { algorithmOf } from "./crypto/jwk-algorithm";
import "./validation";

export type NodeEnv = "development" | "test" | "production";

export interface Config {
  nodeEnv: NodeEnv;
  databaseUrl: string | undefined;
  dbPoolMin: number;
  dbPoolMax: number;
  cleanupIntervalHours: number;
  jwtSecret: string;
  jwtIssuer: string;
  /** A private JWK (JSON) for ES256/EdDSA signing; HS256 with jwtSecret when absent. */
  jwtPrivateKey: string | undefined;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  port: number;
  mailgunApiKey: string | undefined;
  mailgunDomain: string | undefined;
  mailgunApiBase: string;
  fromEmail: string | undefined;
  allowedOrigins: string[];
  rateLimitWindowMs: number;
  rateLimitMaxRequests: number;
  passwordMinLength: number;
  refreshReuseGraceSeconds: number;
  revocationCheck: "kv" | "db";
  loginLockoutThreshold: number;
  /** Failed logins of one account from all networks together, per 24 hours. */
  loginFailureCeiling: number;
  /** No session outlives this, however often it is refreshed. */
  sessionMaxAgeSeconds: number;
  /** Audit rows are deleted after this many days; 0 keeps them forever. */
  auditRetentionDays: number;
  /** The email a failed sign-in attempted is kept in the audit this many days. */
  auditPiiDays: number;
  requireEmailVerification: boolean;
  passwordHashing: PasswordHashingConfig;
  /** The cron creates the next signing key when the current one is this old; 0 never. */
  signingKeyRotationDays: number;
  /** What Turkey must decrypt is sealed under ENCRYPTION_KEY; the previous one still opens. */
  encryptionKeys: { current: string | undefined; previous: string | undefined };
}

/** How new password hashes are made; parameters at or above OWASP's (the defaults). */
export interface PasswordHashingConfig {
  algorithm: "argon2id" | "scrypt";
  /** Memory in KiB, passes, lanes. */
  argon2: { m: number; t: number; p: number };
  /** log2 N, block size, parallelism. */
  scrypt: { ln: number; r: number; p: number };
  /** Server-side secret mixed into new hashes (HMAC-SHA-256 before the KDF). */
  pepper: string | undefined;
  /** The pepper before a rotation: its hashes still verify, and are rehashed at login. */
  previousPepper: string | undefined;
}

/** Raised when the variables cannot make a valid configuration; names keys, never values. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly keys: string[],
    detail: string,
  ) {
    super(`Invalid configuration: ${detail}`);
  }
}

const DURATION = /^(\d+)\s*(ms|s|m|h|d|w)?$/;
const SECONDS_PER_UNIT = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

/** Parses `900`, `90s`, `15m`, `7d` … into whole seconds; undefined when malformed. */
export function parseDurationSeconds(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? "s") as keyof typeof SECONDS_PER_UNIT;
  const seconds = Math.floor(Number(match[1]) * SECONDS_PER_UNIT[unit]);
  return seconds > 0 ? seconds : undefined;
}

const optionalText = z.optional(
  z.pipe(
    z.string().check(z.trim()),
    z.transform((v) => (v === "" ? undefined : v)),
  ),
);

const integer = (fallback: number, min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z._default(
    z.pipe(z.coerce.number(message), z.int(message).check(z.gte(min, message), z.lte(max, message))),
    fallback,
  );
};

const duration = (fallback: string) =>
  z.pipe(
    z._default(z.string(), fallback),
    z.transform((text, ctx) => {
      const seconds = parseDurationSeconds(text);
      if (seconds !== undefined) return seconds;
      ctx.issues.push({ code: "custom", message: "must be a duration such as 900, 15m or 7d", input: text });
      return z.NEVER;
    }),
  );

/** A server-side secret: optional, and at least 32 characters when set. */
const secret = z.pipe(
  optionalText,
  z.optional(z.string().check(z.minLength(32, "must have at least 32 characters"))),
);

const flag = (fallback: "true" | "false") =>
  z._default(z.enum(["true", "false"], "must be true or false"), fallback);

const schema = z.object({
  NODE_ENV: z._default(
    z.enum(["development", "test", "production"], "must be development, test or production"),
    "development",
  ),
  DATABASE_URL: z.pipe(
    optionalText,
    z.optional(z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// URL" })),
  ),
  DB_POOL_MIN: integer(2, 0, 1000),
  DB_POOL_MAX: integer(10, 1, 1000),
  CLEANUP_INTERVAL_HOURS: integer(24, 1, 24 * 365),
  AUDIT_RETENTION_DAYS: integer(400, 0, 36_500),
  AUDIT_PII_DAYS: integer(30, 1, 36_500),
  JWT_SECRET: z.string("is required").check(z.minLength(1, "is required")),
  JWT_PRIVATE_KEY: z.pipe(
    optionalText,
    z.optional(
      z.string().check(z.refine(isSigningJwk, "must be a private JWK (JSON) of an EC P-256 or Ed25519 key")),
    ),
  ),
  SIGNING_KEY_ROTATION_DAYS: integer(0, 0, 3650),
  JWT_ISSUER: z._default(z.string().check(z.trim(), z.minLength(1)), "turkey"),
  JWT_ACCESS_EXPIRES_IN: duration("15m"),
  JWT_REFRESH_EXPIRES_IN: duration("7d"),
  PORT: integer(3000, 1, 65_535),
  MAILGUN_API_KEY: optionalText,
  MAILGUN_DOMAIN: optionalText,
  MAILGUN_API_BASE: z._default(
    z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    "https://api.mailgun.net",
  ),
  FROM_EMAIL: optionalText,
  ALLOWED_ORIGINS: z.pipe(
    z._default(z.string(), ""),
    z.transform((list) =>
      list
        .split(",")
        .map((origin) => origin.trim())
        .filter(Boolean),
    ),
  ),
  RATE_LIMIT_WINDOW_MS: integer(900_000, 1000, 7 * 86_400_000),
  RATE_LIMIT_MAX_REQUESTS: integer(100, 1, 1_000_000),
  PASSWORD_MIN_LENGTH: integer(8, 8, 128),
  REFRESH_REUSE_GRACE_SECONDS: integer(10, 0, 300),
  REVOCATION_CHECK: z._default(z.enum(["kv", "db"], "must be kv or db"), "kv"),
  LOGIN_LOCKOUT_THRESHOLD: integer(5, 1, 100),
  LOGIN_FAILURE_CEILING: integer(100, 1, 100_000),
  SESSION_MAX_AGE: duration("30d"),
  REQUIRE_EMAIL_VERIFICATION: flag("false"),
  PASSWORD_HASH: z._default(z.enum(["argon2id", "scrypt"], "must be argon2id or scrypt"), "argon2id"),
  // Upward only from the defaults, and at most 64 MiB per hash in a 128 MB isolate.
  PASSWORD_ARGON2_MEMORY_KIB: integer(19_456, 19_456, 65_536),
  PASSWORD_ARGON2_ITERATIONS: integer(2, 2, 16),
  PASSWORD_ARGON2_PARALLELISM: integer(1, 1, 16),
  PASSWORD_SCRYPT_LOG_N: integer(14, 14, 16),
  PASSWORD_SCRYPT_R: integer(8, 8, 32),
  PASSWORD_SCRYPT_P: integer(5, 5, 64),
  PASSWORD_PEPPER: secret,
  PASSWORD_PEPPER_PREVIOUS: secret,
  ENCRYPTION_KEY: secret,
  ENCRYPTION_KEY_PREVIOUS: secret,
});

/** Every variable the configuration reads. */
export const CONFIG_KEYS: readonly string[] = Object.keys(schema.shape);

type Variables = Record<string, unknown>;

/** Turns the raw variables (Worker env or process.env) into a Config, or throws ConfigError. */
export function parseConfig(variables: Variables): Config {
  const v = validate(schema, variables);
  const config: Config = {
    ...databaseFields(v),
    cleanupIntervalHours: v.CLEANUP_INTERVAL_HOURS,
    jwtSecret: v.JWT_SECRET,
    jwtIssuer: v.JWT_ISSUER,
    jwtPrivateKey: v.JWT_PRIVATE_KEY,
    accessTtlSeconds: v.JWT_ACCESS_EXPIRES_IN,
    refreshTtlSeconds: v.JWT_REFRESH_EXPIRES_IN,
    port: v.PORT,
    mailgunApiKey: v.MAILGUN_API_KEY,
    mailgunDomain: v.MAILGUN_DOMAIN,
    mailgunApiBase: v.MAILGUN_API_BASE.replace(/\/+$/, ""),
    fromEmail: v.FROM_EMAIL,
    allowedOrigins: v.ALLOWED_ORIGINS,
    rateLimitWindowMs: v.RATE_LIMIT_WINDOW_MS,
    rateLimitMaxRequests: v.RATE_LIMIT_MAX_REQUESTS,
    passwordMinLength: v.PASSWORD_MIN_LENGTH,
    refreshReuseGraceSeconds: v.REFRESH_REUSE_GRACE_SECONDS,
    revocationCheck: v.REVOCATION_CHECK,
    loginLockoutThreshold: v.LOGIN_LOCKOUT_THRESHOLD,
    loginFailureCeiling: v.LOGIN_FAILURE_CEILING,
    sessionMaxAgeSeconds: v.SESSION_MAX_AGE,
    requireEmailVerification: v.REQUIRE_EMAIL_VERIFICATION === "true",
    passwordHashing: passwordHashingFields(v),
    signingKeyRotationDays: v.SIGNING_KEY_ROTATION_DAYS,
    encryptionKeys: { current: v.ENCRYPTION_KEY, previous: v.ENCRYPTION_KEY_PREVIOUS },
  };
  assertConsistent(config);
  assertLifetimesOrdered(config);
  assertHashFits(config.passwordHashing);
  if (config.nodeEnv === "production") assertProductionSafe(config);
  return config;
}

/** An access token must not outlive the refresh token, nor a refresh token the session. */
function assertLifetimesOrdered(config: Config): void {
  if (config.accessTtlSeconds > config.refreshTtlSeconds) {
    throw new ConfigError(
      ["JWT_ACCESS_EXPIRES_IN"],
      "JWT_ACCESS_EXPIRES_IN must not be longer than JWT_REFRESH_EXPIRES_IN",
    );
  }
  if (config.refreshTtlSeconds > config.sessionMaxAgeSeconds) {
    throw new ConfigError(
      ["SESSION_MAX_AGE"],
      "SESSION_MAX_AGE must not be shorter than JWT_REFRESH_EXPIRES_IN",
    );
  }
}

const SSL_REQUIRED = "DATABASE_URL must include sslmode=require in production";

export type DatabaseConfig = Pick<
  Config,
  "nodeEnv" | "databaseUrl" | "dbPoolMin" | "dbPoolMax" | "auditRetentionDays" | "auditPiiDays"
>;

const databaseSchema = z.pick(schema, {
  NODE_ENV: true,
  DATABASE_URL: true,
  DB_POOL_MIN: true,
  DB_POOL_MAX: true,
  AUDIT_RETENTION_DAYS: true,
  AUDIT_PII_DAYS: true,
});

/**
 * The database settings (and the retention the cleanup applies) alone, for Node tools that
 * never sign a token (`gravy db …`): they
 * must not demand JWT_SECRET or Mailgun, but production still insists on TLS to the database.
 */
export function parseDatabaseConfig(variables: Variables): DatabaseConfig {
  const config = databaseFields(validate(databaseSchema, variables));
  assertConsistent(config);
  if (config.nodeEnv === "production" && config.databaseUrl && !requiresSsl(config.databaseUrl)) {
    throw new ConfigError(["DATABASE_URL"], SSL_REQUIRED);
  }
  return config;
}

const keysSchema = z.pick(schema, {
  ENCRYPTION_KEY: true,
  ENCRYPTION_KEY_PREVIOUS: true,
  JWT_PRIVATE_KEY: true,
});

/** What `gravy keys …` needs besides the database: the encryption secrets and JWT_PRIVATE_KEY. */
export function parseKeysConfig(variables: Variables): Pick<Config, "encryptionKeys" | "jwtPrivateKey"> {
  const v = validate(keysSchema, variables);
  return {
    encryptionKeys: { current: v.ENCRYPTION_KEY, previous: v.ENCRYPTION_KEY_PREVIOUS },
    jwtPrivateKey: v.JWT_PRIVATE_KEY,
  };
}

function databaseFields(v: z.output<typeof databaseSchema>): DatabaseConfig {
  return {
    nodeEnv: v.NODE_ENV,
    databaseUrl: v.DATABASE_URL,
    dbPoolMin: v.DB_POOL_MIN,
    dbPoolMax: v.DB_POOL_MAX,
    auditRetentionDays: v.AUDIT_RETENTION_DAYS,
    auditPiiDays: v.AUDIT_PII_DAYS,
  };
}

function passwordHashingFields(v: z.output<typeof schema>): PasswordHashingConfig {
  return {
    algorithm: v.PASSWORD_HASH,
    argon2: {
      m: v.PASSWORD_ARGON2_MEMORY_KIB,
      t: v.PASSWORD_ARGON2_ITERATIONS,
      p: v.PASSWORD_ARGON2_PARALLELISM,
    },
    scrypt: { ln: v.PASSWORD_SCRYPT_LOG_N, r: v.PASSWORD_SCRYPT_R, p: v.PASSWORD_SCRYPT_P },
    pepper: v.PASSWORD_PEPPER,
    previousPepper: v.PASSWORD_PEPPER_PREVIOUS,
  };
}

/** scrypt holds 128·N·r bytes per hash; like Argon2's, that must stay within 64 MiB. */
function assertHashFits({ scrypt }: PasswordHashingConfig): void {
  if (128 * 2 ** scrypt.ln * scrypt.r > 64 * 2 ** 20) {
    throw new ConfigError(
      ["PASSWORD_SCRYPT_LOG_N", "PASSWORD_SCRYPT_R"],
      "PASSWORD_SCRYPT_LOG_N and PASSWORD_SCRYPT_R must keep 128·2^N·r within 64 MiB",
    );
  }
}

function validate<S extends z.ZodMiniObject>(shape: S, variables: Variables): z.output<S> {
  const input = Object.fromEntries(Object.keys(shape.shape).map((key) => [key, asText(variables[key])]));
  const parsed = shape.safeParse(input);
  if (!parsed.success) {
    const keys = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0])))];
    const detail = parsed.error.issues.map((issue) => `${String(issue.path[0])} ${issue.message}`).join("; ");
    throw new ConfigError(keys, detail);
  }
  return parsed.data;
}

function assertConsistent(config: Pick<Config, "dbPoolMin" | "dbPoolMax">): void {
  if (config.dbPoolMin > config.dbPoolMax) {
    throw new ConfigError(["DB_POOL_MIN"], "DB_POOL_MIN must not exceed DB_POOL_MAX");
  }
}

/**
 * The variables production refuses to run without, with the field each one fills. The one
 * definition: the checks below and the preflight of `npm run deploy` both read it.
 */
export const PRODUCTION_REQUIRED = {
  JWT_SECRET: "jwtSecret",
  MAILGUN_API_KEY: "mailgunApiKey",
  MAILGUN_DOMAIN: "mailgunDomain",
  FROM_EMAIL: "fromEmail",
  ALLOWED_ORIGINS: "allowedOrigins",
} as const satisfies Record<string, keyof Config>;

// Mailgun's sandbox domains deliver only to a few authorised recipients: every other user's
// verification and reset emails would be dropped.
const MAILGUN_SANDBOX = /^sandbox[^.]*\.mailgun\.org$/i;

/** Production refuses settings that are only acceptable on a developer's machine. */
function assertProductionSafe(config: Config): void {
  const problems: [string, string][] = [];
  if (config.jwtSecret.length < 32) {
    problems.push(["JWT_SECRET", "JWT_SECRET must be at least 32 characters in production"]);
  }
  if (config.databaseUrl && !requiresSsl(config.databaseUrl)) {
    problems.push(["DATABASE_URL", SSL_REQUIRED]);
  }
  for (const [key, field] of Object.entries(PRODUCTION_REQUIRED)) {
    if (!config[field]?.length) problems.push([key, `${key} is required in production`]);
  }
  if (config.mailgunDomain && MAILGUN_SANDBOX.test(config.mailgunDomain)) {
    problems.push([
      "MAILGUN_DOMAIN",
      "MAILGUN_DOMAIN is a Mailgun sandbox domain, which mails only authorised recipients; use your own sending domain in production",
    ]);
  }
  if (problems.length > 0) {
    throw new ConfigError(
      problems.map(([key]) => key),
      problems.map(([, message]) => message).join("; "),
    );
  }
}

function isSigningJwk(text: string): boolean {
  try {
    const jwk = JSON.parse(text) as Record<string, unknown>;
    return typeof jwk.d === "string" && algorithmOf(jwk) !== undefined;
  } catch {
    return false;
  }
}

/** True when a connection string insists on TLS (sslmode=require or stricter). */
export function requiresSsl(databaseUrl: string): boolean {
  const mode = new URL(databaseUrl).searchParams.get("sslmode");
  return mode === "require" || mode === "verify-ca" || mode === "verify-full";
}

function asText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : String(value);
}
