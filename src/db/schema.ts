/**
 * The database schema. drizzle-kit turns it into the SQL migrations in `migrations/`.
 * Every secret token is stored only as a hash; index names are part of the contract.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const id = () => uuid("id").primaryKey().default(sql`gen_random_uuid()`);
const at = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** The app registry: one row per app served, keyed by its public appId. */
export const apps = pgTable("apps", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** Base URL of the app's own site; email links point here. */
  url: text("url").notNull(),
  /** Users may sign in with a code or link mailed to them (`gravy app set --email-login`). */
  emailLogin: boolean("email_login").notNull().default(false),
  /** With email login: an unknown address gets an account on its first sign-in. */
  emailSignup: boolean("email_signup").notNull().default(false),
  /** Mailed links point at Turkey's own pages instead of the app's site. */
  hostedPages: boolean("hosted_pages").notNull().default(false),
  createdAt: at("created_at").notNull().defaultNow(),
});

export const users = pgTable(
  "users",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    /** Normalised: trimmed and lower-cased. */
    email: text("email").notNull(),
    emailVerified: boolean("email_verified").notNull().default(false),
    name: text("name"),
    /** Self-describing password hash (algorithm, parameters, salt, hash). */
    passwordHash: text("password_hash").notNull(),
    /**
     * False for an account created by a social sign-in: its hash is of a random password nobody
     * knows, until a password reset sets a real one. Unlinking the last identity needs one.
     */
    passwordSet: boolean("password_set").notNull().default(true),
    createdAt: at("created_at").notNull().defaultNow(),
    updatedAt: at("updated_at").notNull().defaultNow(),
    /** Set by an operator (the admin API): no sign-in, refresh or email flow while set. */
    disabledAt: at("disabled_at"),
  },
  (t) => [
    uniqueIndex("users_email_app_idx").on(t.email, t.appId),
    index("users_app_idx").on(t.appId),
    // The admin API's user list: pages in (created_at, id) order within one app.
    index("users_app_created_idx").on(t.appId, t.createdAt, t.id),
  ],
);

/**
 * Keys that app backends authenticate with (the admin API, RFC 7662 introspection). Only a
 * hash is stored; the key itself is shown once, when created. Several per app, so a key can
 * be replaced without downtime.
 */
export const appKeys = pgTable(
  "app_keys",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    keyHash: text("key_hash").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
    /** Updated at most about once a minute, not on every call. */
    lastUsedAt: at("last_used_at"),
    revokedAt: at("revoked_at"),
  },
  (t) => [uniqueIndex("app_keys_hash_idx").on(t.keyHash), index("app_keys_app_idx").on(t.appId)],
);

/**
 * One row per refresh token issued; rows of one sign-in share a `sessionId` (the family).
 * Each row also records the access token issued with it, so every live access token of a
 * session or a user can be revoked without a lookup on the verify path.
 */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    sessionId: uuid("session_id").notNull(),
    tokenHash: text("token_hash").notNull(),
    accessJti: text("access_jti").notNull(),
    accessExpiresAt: at("access_expires_at").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
    expiresAt: at("expires_at").notNull(),
    /** Set when this token was exchanged for its successor. */
    rotatedAt: at("rotated_at"),
    revokedAt: at("revoked_at"),
    sessionCreatedAt: at("session_created_at").notNull(),
    userAgent: text("user_agent"),
    ip: text("ip"),
    /** How the user signed in (RFC 8176 values), copied to every access token of the session. */
    amr: text("amr").array().notNull().default(sql`'{pwd}'`),
    /** Authenticator assurance level of that sign-in: 1, or 2 with a second factor. */
    aal: smallint("aal").notNull().default(1),
  },
  (t) => [
    uniqueIndex("refresh_tokens_hash_idx").on(t.tokenHash),
    // Also counts a session's refreshes within the rate window (session_id, created_at > …).
    index("refresh_tokens_session_idx").on(t.sessionId, t.createdAt),
    index("refresh_tokens_user_app_idx").on(t.userId, t.appId),
    index("refresh_tokens_expires_idx").on(t.expiresAt),
    // The cleanup of rows revoked long ago.
    index("refresh_tokens_revoked_idx").on(t.revokedAt).where(sql`${t.revokedAt} is not null`),
  ],
);

/** The record of revoked access tokens; KV holds the edge copy. */
export const revokedJti = pgTable(
  "revoked_jti",
  {
    jti: text("jti").primaryKey(),
    appId: text("app_id").notNull(),
    userId: uuid("user_id"),
    /** The revoked token's own expiry: after it the row can go. */
    expiresAt: at("expires_at").notNull(),
    revokedAt: at("revoked_at").notNull().defaultNow(),
    /** False until the KV copy is known to be written; cleanup re-publishes the rest. */
    publishedToKv: boolean("published_to_kv").notNull().default(false),
  },
  (t) => [
    index("revoked_jti_app_idx").on(t.appId),
    index("revoked_jti_expires_idx").on(t.expiresAt),
    index("revoked_jti_user_idx").on(t.userId),
    // The cron's every-minute search for revocations whose KV write failed.
    index("revoked_jti_unpublished_idx").on(t.expiresAt).where(sql`${t.publishedToKv} = false`),
  ],
);

/**
 * Single-use tokens mailed to users: email verification, password reset, and the
 * confirmation of a new address (which carries that address and the session that asked).
 */
export const emailTokens = pgTable(
  "email_tokens",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["verify_email", "reset_password", "change_email"] }).notNull(),
    tokenHash: text("token_hash").notNull(),
    /** change_email: the address that becomes the user's when the token is spent. */
    newEmail: text("new_email"),
    /** change_email: the session that asked, which stays signed in when the others end. */
    sessionId: uuid("session_id"),
    createdAt: at("created_at").notNull().defaultNow(),
    expiresAt: at("expires_at").notNull(),
    usedAt: at("used_at"),
  },
  (t) => [
    uniqueIndex("email_tokens_hash_idx").on(t.tokenHash),
    index("email_tokens_user_kind_idx").on(t.userId, t.kind),
    index("email_tokens_expires_idx").on(t.expiresAt),
    // The cleanup of used links.
    index("email_tokens_used_idx").on(t.usedAt).where(sql`${t.usedAt} is not null`),
  ],
);

/**
 * Sign-in codes and links mailed for passwordless sign-in, keyed by address (the account may
 * not exist yet, with sign-up by email). The 6-digit code is stored hashed with the link's
 * hash as salt; `failed_attempts` spends it after 5 wrong guesses.
 */
export const emailLogins = pgTable(
  "email_logins",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    /** Normalised, like users.email. */
    email: text("email").notNull(),
    tokenHash: text("token_hash").notNull(),
    codeHash: text("code_hash").notNull(),
    /** `sign_in`, or `delete_account` (a code re-proving the address before deletion; no link). */
    purpose: text("purpose").notNull().default("sign_in"),
    /**
     * The S256 PKCE challenge of the browser that asked, when it sent one: a hosted page that
     * consumes the link hands the sign-in back to that browser only (src/auth/handoff.ts).
     */
    codeChallenge: text("code_challenge"),
    failedAttempts: integer("failed_attempts").notNull().default(0),
    createdAt: at("created_at").notNull().defaultNow(),
    expiresAt: at("expires_at").notNull(),
    usedAt: at("used_at"),
  },
  (t) => [
    uniqueIndex("email_logins_hash_idx").on(t.tokenHash),
    index("email_logins_email_idx").on(t.appId, t.email, t.createdAt),
    index("email_logins_expires_idx").on(t.expiresAt),
  ],
);

/** One row per security event. Kept when users are deleted, hence no foreign keys. */
export const audit = pgTable(
  "audit",
  {
    id: id(),
    appId: text("app_id"),
    userId: uuid("user_id"),
    event: text("event").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    details: jsonb("details").$type<Record<string, unknown>>(),
    createdAt: at("created_at").notNull().defaultNow(),
    // The hash chain (src/audit/chain.ts), filled in when the cron seals the row; null until then.
    /** Position in its app's chain, from 1. */
    chainSeq: bigint("chain_seq", { mode: "number" }),
    /** SHA-256 of the row's canonical content, personal fields by their salted digests. */
    contentDigest: text("content_digest"),
    /** SHA-256 over the previous row's chain hash and this row's content digest. */
    chainHash: text("chain_hash"),
    /** Per personal field: its salted digest (kept) and salt (blanked with the field). */
    personal: jsonb("personal").$type<Record<string, { digest: string; salt?: string }>>(),
  },
  (t) => [
    index("audit_app_created_idx").on(t.appId, t.createdAt),
    index("audit_chain_idx").on(sql`coalesce(${t.appId}, '')`, t.chainSeq),
    // The cron's search for rows not yet sealed.
    index("audit_unsealed_idx").on(t.createdAt).where(sql`${t.chainSeq} is null`),
    index("audit_user_idx").on(t.userId),
    index("audit_event_created_idx").on(t.event, t.createdAt),
    // Retention: the oldest rows go first; attempted emails are blanked after AUDIT_PII_DAYS.
    index("audit_created_idx").on(t.createdAt),
    index("audit_pii_idx").on(t.createdAt).where(sql`${t.details} ? 'email'`),
  ],
);

/**
 * Second factors. A TOTP factor's secret is sealed (src/crypto/seal.ts, purpose `totp-secret`,
 * bound to the row's app, user and id); it is pending until `confirmedAt`. `lastUsedStep` is
 * the newest accepted time step: a code of that step or an older one is refused (no replay).
 */
export const mfaFactors = pgTable(
  "mfa_factors",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["totp"] }).notNull(),
    secretSealed: text("secret_sealed").notNull(),
    lastUsedStep: bigint("last_used_step", { mode: "number" }),
    createdAt: at("created_at").notNull().defaultNow(),
    confirmedAt: at("confirmed_at"),
  },
  (t) => [
    uniqueIndex("mfa_factors_user_kind_idx").on(t.userId, t.kind),
    index("mfa_factors_app_idx").on(t.appId),
  ],
);

/** Single-use recovery codes, stored only as hashes; a new set replaces the old one. */
export const recoveryCodes = pgTable(
  "recovery_codes",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
    usedAt: at("used_at"),
  },
  (t) => [uniqueIndex("recovery_codes_user_hash_idx").on(t.userId, t.codeHash)],
);

/**
 * A password sign-in waiting for its second factor: the mfaToken, stored hashed, single-use,
 * short-lived, bound to app and user, and to the password hash it was issued for (as a digest),
 * so a password change in between voids it. `attempts` counts codes tried against it.
 */
export const mfaChallenges = pgTable(
  "mfa_challenges",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    passwordDigest: text("password_digest").notNull(),
    /** How the first step signed in (RFC 8176 amr): the second step's amr extends it. */
    firstAmr: text("first_amr").array().notNull().default(sql`array['pwd']::text[]`),
    attempts: integer("attempts").notNull().default(0),
    createdAt: at("created_at").notNull().defaultNow(),
    expiresAt: at("expires_at").notNull(),
    usedAt: at("used_at"),
  },
  (t) => [
    uniqueIndex("mfa_challenges_hash_idx").on(t.tokenHash),
    index("mfa_challenges_user_idx").on(t.userId),
    index("mfa_challenges_expires_idx").on(t.expiresAt),
  ],
);

/**
 * A sign-in finished on Turkey's side (a provider callback, a hosted page) waiting to be
 * handed to the app's page: a one-time code, stored hashed, 60 s, single use, bound to the app
 * and to the S256 PKCE challenge of the browser that started it.
 */
export const handoffCodes = pgTable(
  "handoff_codes",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    codeChallenge: text("code_challenge").notNull(),
    /** How the user signed in on Turkey's side (RFC 8176 amr), carried to the session. */
    amr: text("amr").array().notNull(),
    /** The sign-in method recorded in the audit (`email_link`, `oauth:<provider>` …). */
    method: text("method").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
    expiresAt: at("expires_at").notNull(),
    usedAt: at("used_at"),
  },
  (t) => [
    uniqueIndex("handoff_codes_hash_idx").on(t.codeHash),
    index("handoff_codes_user_idx").on(t.userId),
    index("handoff_codes_expires_idx").on(t.expiresAt),
  ],
);

/**
 * A user's passkeys (WebAuthn credentials) in one app. The credential id is unique per app,
 * so a sign-in finds its user by it; the public key (COSE, base64url) is not secret. `counter`
 * is the authenticator's signature counter: a signature that does not raise it is refused.
 */
export const passkeys = pgTable(
  "passkeys",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    credentialId: text("credential_id").notNull(),
    publicKey: text("public_key").notNull(),
    counter: bigint("counter", { mode: "number" }).notNull().default(0),
    transports: text("transports").array().notNull().default(sql`'{}'::text[]`),
    deviceType: text("device_type", { enum: ["singleDevice", "multiDevice"] }).notNull(),
    backedUp: boolean("backed_up").notNull(),
    name: text("name").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
    lastUsedAt: at("last_used_at"),
  },
  (t) => [
    uniqueIndex("passkeys_app_credential_idx").on(t.appId, t.credentialId),
    index("passkeys_user_idx").on(t.userId),
  ],
);

/**
 * A WebAuthn challenge handed out with options: stored as a hash, bound to its app, its
 * purpose and (except for a passwordless sign-in) its user, spent once by a conditional UPDATE.
 */
export const passkeyChallenges = pgTable(
  "passkey_challenges",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
    purpose: text("purpose", { enum: ["register", "login", "mfa"] }).notNull(),
    challengeHash: text("challenge_hash").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
    expiresAt: at("expires_at").notNull(),
    usedAt: at("used_at"),
  },
  (t) => [
    uniqueIndex("passkey_challenges_hash_idx").on(t.challengeHash),
    index("passkey_challenges_user_idx").on(t.userId),
    index("passkey_challenges_expires_idx").on(t.expiresAt),
  ],
);

/**
 * The head of each app's audit chain ('' for rows of no app), and its anchor: the last row
 * retention deleted, from which the oldest remaining row is verified. Written only by the
 * SECURITY DEFINER functions of the migration `audit_chain`.
 */
export const auditChains = pgTable("audit_chains", {
  appId: text("app_id").primaryKey(),
  headSeq: bigint("head_seq", { mode: "number" }).notNull().default(0),
  headHash: text("head_hash").notNull(),
  anchorSeq: bigint("anchor_seq", { mode: "number" }).notNull().default(0),
  anchorHash: text("anchor_hash").notNull(),
  sealedAt: at("sealed_at"),
  anchoredAt: at("anchored_at"),
});

/**
 * Asymmetric signing keys (src/auth/key-store.ts): the private half sealed under ENCRYPTION_KEY.
 * A key is published while `next`, signs while `current`, verifies while `retired`, and its
 * row is deleted once every token it signed has expired.
 */
export const signingKeys = pgTable(
  "signing_keys",
  {
    kid: text("kid").primaryKey(),
    alg: text("alg", { enum: ["ES256", "EdDSA"] }).notNull(),
    state: text("state", { enum: ["next", "current", "retired"] }).notNull(),
    publicJwk: jsonb("public_jwk").$type<Record<string, string>>().notNull(),
    privateSealed: text("private_sealed").notNull(),
    createdAt: at("created_at").notNull(),
    /** Published long enough by then (one JWKS max-age and the isolates' key cache). */
    usableFrom: at("usable_from").notNull(),
    activatedAt: at("activated_at"),
    retiredAt: at("retired_at"),
  },
  (t) => [
    // At most one key signs, and at most one waits.
    uniqueIndex("signing_keys_current_idx").on(t.state).where(sql`${t.state} = 'current'`),
    uniqueIndex("signing_keys_next_idx").on(t.state).where(sql`${t.state} = 'next'`),
  ],
);

/**
 * Social sign-in providers an app turned on (src/federation). The client secret is sealed
 * (purpose `oauth-client-secret`, bound to the row's app and provider). `issuer` is the OIDC
 * issuer of an `oidc` provider, or an override of a preset's (tests, GitHub Enterprise).
 */
export const oauthProviders = pgTable(
  "oauth_providers",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    provider: text("provider", { enum: ["google", "github", "microsoft", "apple", "oidc"] }).notNull(),
    clientId: text("client_id").notNull(),
    clientSecretSealed: text("client_secret_sealed").notNull(),
    issuer: text("issuer"),
    /** Space-separated; null means the provider's default scopes. */
    scopes: text("scopes"),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [uniqueIndex("oauth_providers_app_provider_idx").on(t.appId, t.provider)],
);

/** Where a social sign-in may return to: exact URLs, per app. */
export const oauthRedirects = pgTable(
  "oauth_redirects",
  {
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [uniqueIndex("oauth_redirects_app_url_idx").on(t.appId, t.url)],
);

/**
 * A social sign-in in progress, from the authorize redirect to the provider's callback: the
 * `state` (hashed), the app's PKCE challenge, the return URL, Turkey's own PKCE verifier towards
 * the provider (sealed) and the OIDC nonce. Single-use, 10 minutes. `linkUserId` is set when a
 * signed-in user links another provider.
 */
export const oauthStates = pgTable(
  "oauth_states",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    stateHash: text("state_hash").notNull(),
    codeChallenge: text("code_challenge"),
    redirectTo: text("redirect_to").notNull(),
    verifierSealed: text("verifier_sealed").notNull(),
    nonce: text("nonce"),
    linkUserId: uuid("link_user_id").references(() => users.id, { onDelete: "cascade" }),
    createdAt: at("created_at").notNull().defaultNow(),
    expiresAt: at("expires_at").notNull(),
    usedAt: at("used_at"),
  },
  (t) => [
    uniqueIndex("oauth_states_hash_idx").on(t.stateHash),
    index("oauth_states_expires_idx").on(t.expiresAt),
  ],
);

/** A provider account (app, provider, subject) signed in as a user of that app. */
export const identities = pgTable(
  "identities",
  {
    id: id(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    subject: text("subject").notNull(),
    /** As the provider last reported it, normalised. */
    email: text("email"),
    emailVerified: boolean("email_verified").notNull().default(false),
    createdAt: at("created_at").notNull().defaultNow(),
    lastSignInAt: at("last_sign_in_at"),
  },
  (t) => [
    uniqueIndex("identities_app_provider_subject_idx").on(t.appId, t.provider, t.subject),
    index("identities_user_idx").on(t.userId),
  ],
);
