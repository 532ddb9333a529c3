/**
 * The JSON bodies Turkey answers with, as zod schemas: the named schemas of the OpenAPI
 * document. Objects are strict, so a field added to a response without being described here
 * fails the response check of the test suite; `satisfies` ties each schema to the domain type
 * it describes, so a field the type drops fails to compile.
 */
import * as z from "zod/mini";
import type { AuditEntry, AuditPage } from "../admin/audit-log";
import type { AdminUserView, UserDetail, UserPage } from "../admin/users";
import type { AccessClaims } from "../auth/access-tokens";
import type { AccountExport } from "../auth/export-user";
import type { MfaRequired } from "../auth/mfa-challenges";
import type { TokenResponse } from "../auth/session-context";
import type { SessionView } from "../auth/sessions";
import type { PublicJwk } from "../auth/signing-keys";
import type { UserView } from "../auth/users";
import type { Health } from "../health";
import type { FactorsView } from "../mfa/factors";
import type { PasskeyView } from "../passkeys/credentials";

/** Registers the schema under a component name of the document. */
function named<T extends z.ZodMiniType>(id: string, description: string, schema: T): T {
  z.globalRegistry.add(schema as z.ZodMiniType, { id, description });
  return schema;
}

const timestamp = z.iso.datetime();
const seconds = z.int().check(z.nonnegative());

export const user = named(
  "User",
  "An account in one app; never carries a password hash.",
  z.strictObject({
    id: z.uuid(),
    appId: z.string(),
    email: z.string(),
    emailVerified: z.boolean(),
    name: z.nullable(z.string()),
    createdAt: timestamp,
  }) satisfies z.ZodMiniType<UserView>,
);

export const userEnvelope = z.strictObject({ user });

export const tokens = named(
  "TokenResponse",
  "A new session: a short-lived access token (JWT) and an opaque, single-use refresh token.",
  z.strictObject({
    user,
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal("Bearer"),
    expiresIn: seconds,
    refreshExpiresIn: seconds,
  }) satisfies z.ZodMiniType<TokenResponse>,
);

export const registration = z.union([
  tokens,
  named(
    "VerificationRequired",
    "Registered; no session until the email address is verified (REQUIRE_EMAIL_VERIFICATION).",
    z.strictObject({ user, verificationRequired: z.literal(true) }),
  ),
]);

/** Answered whether or not the email has an account. */
export const accepted = z.strictObject({ accepted: z.literal(true) });

const session = named(
  "Session",
  "A signed-in device: one refresh-token family.",
  z.strictObject({
    id: z.uuid(),
    createdAt: timestamp,
    lastUsedAt: timestamp,
    userAgent: z.nullable(z.string()),
    ip: z.nullable(z.string()),
    current: z.boolean(),
  }) satisfies z.ZodMiniType<SessionView>,
);

export const sessions = z.strictObject({ sessions: z.array(session) });

const nullableText = z.nullable(z.string());

export const passkey = named(
  "Passkey",
  "A passkey of the user in this app. deviceType singleDevice: bound to one authenticator " +
    "(amr hwk); multiDevice: may be synced between devices (amr swk).",
  z.strictObject({
    id: z.uuid(),
    name: z.string(),
    createdAt: timestamp,
    lastUsedAt: z.nullable(timestamp),
    deviceType: z.enum(["singleDevice", "multiDevice"]),
    backedUp: z.boolean(),
  }) satisfies z.ZodMiniType<PasskeyView>,
);

export const accountExport = named(
  "AccountExport",
  "Everything Turkey holds about the user in this app; no password hash, no token.",
  z.strictObject({
    exportedAt: timestamp,
    app: z.strictObject({ id: z.string(), name: z.string() }),
    user,
    sessions: z.array(
      z.strictObject({
        id: z.uuid(),
        createdAt: timestamp,
        lastUsedAt: timestamp,
        expiresAt: timestamp,
        endedAt: z.nullable(timestamp),
        ip: nullableText,
        userAgent: nullableText,
      }),
    ),
    passkeys: z.array(passkey),
    auditEvents: z.array(
      z.strictObject({
        event: z.string(),
        createdAt: timestamp,
        ip: nullableText,
        userAgent: nullableText,
        details: z.record(z.string(), z.unknown()),
      }),
    ),
  }) satisfies z.ZodMiniType<AccountExport>,
);

const activeToken = z.strictObject({
  active: z.literal(true),
  iss: z.string(),
  sub: z.uuid(),
  aud: z.string(),
  client_id: z.optional(z.string()),
  iat: seconds,
  exp: seconds,
  jti: z.string(),
  sid: z.uuid(),
  email: z.string(),
  email_verified: z.boolean(),
  amr: z.array(z.string()),
  aal: z.union([z.literal(1), z.literal(2)]),
}) satisfies z.ZodMiniType<AccessClaims & { active: true }>;

export const introspection = named(
  "Introspection",
  "RFC 7662 style: the claims of a live token of this app, or only `active: false`.",
  z.union([activeToken, z.strictObject({ active: z.literal(false) })]),
);

/** The cleanup's rules, as its backlog in /health names them. */
const retentionRule = z.enum([
  "revokedJti",
  "refreshTokensExpired",
  "refreshTokensRevoked",
  "emailTokensUsed",
  "emailTokensExpired",
  "mfaChallengesExpired",
  "passkeyChallengesExpired",
  "emailLogins",
  "handoffCodes",
  "oauthStates",
  "auditExpired",
  "auditPii",
]);

export const health = named(
  "Health",
  "The Worker and its database connection.",
  z.strictObject({
    status: z.enum(["healthy", "unhealthy"]),
    database: z.enum(["connected", "disconnected"]),
    uptime: z.string(),
    uptimeSeconds: seconds,
    version: z.string(),
    lastCleanupAt: z.nullable(timestamp),
    cleanupBacklog: z.optional(z.partialRecord(retentionRule, z.int().check(z.nonnegative()))),
  }) satisfies z.ZodMiniType<Health>,
);

const publicKey = named(
  "PublicKey",
  "A public JWK: EC P-256 for ES256, or Ed25519 for EdDSA.",
  z.strictObject({
    kty: z.enum(["EC", "OKP"]),
    crv: z.enum(["P-256", "Ed25519"]),
    x: z.string(),
    y: z.optional(z.string()),
    kid: z.string(),
    alg: z.enum(["ES256", "EdDSA"]),
    use: z.literal("sig"),
  }) satisfies z.ZodMiniType<PublicJwk>,
);

export const jwks = named(
  "JWKS",
  "Public keys of asymmetric signing (stored keys: next, current and retired; or JWT_PRIVATE_KEY); empty with HS256 alone. Never a private part.",
  z.strictObject({ keys: z.array(publicKey) }),
);

export const mfaRequired = named(
  "MfaRequired",
  "The password was right and a second factor is enabled: no session yet. Send the mfaToken " +
    "with a code to /v1/auth/mfa/verify within 5 minutes.",
  z.strictObject({
    mfaRequired: z.literal(true),
    mfaToken: z.string(),
    methods: z.array(z.enum(["totp", "recovery_code", "passkey"])),
  }) satisfies z.ZodMiniType<MfaRequired>,
);

export const totpEnrollment = named(
  "TotpEnrollment",
  "A pending TOTP factor: the base32 secret and the otpauth:// URI for a QR code.",
  z.strictObject({ secret: z.string(), otpauthUrl: z.string() }),
);

export const recoveryCodes = named(
  "RecoveryCodes",
  "Ten single-use recovery codes, shown this once; only their hashes are kept.",
  z.strictObject({ recoveryCodes: z.array(z.string()) }),
);

export const factors = named(
  "Factors",
  "The user's second factors (pending ones with confirmedAt null), the unused recovery codes left, and the passkeys.",
  z.strictObject({
    factors: z.array(
      z.strictObject({ kind: z.literal("totp"), createdAt: timestamp, confirmedAt: z.nullable(timestamp) }),
    ),
    recoveryCodesLeft: z.int().check(z.nonnegative()),
    passkeys: z.array(passkey),
  }) satisfies z.ZodMiniType<FactorsView>,
);

export const passkeyList = z.strictObject({ passkeys: z.array(passkey) });

const credentialDescriptor = z.looseObject({
  id: z.string(),
  type: z.literal("public-key"),
  transports: z.optional(z.array(z.string())),
});

export const passkeyCreationOptions = named(
  "PasskeyCreationOptions",
  "WebAuthn PublicKeyCredentialCreationOptions in their JSON form (binary values base64url): " +
    "pass to navigator.credentials.create after decoding challenge, user.id and excludeCredentials ids.",
  z.looseObject({
    rp: z.looseObject({ id: z.optional(z.string()), name: z.string() }),
    user: z.looseObject({ id: z.string(), name: z.string(), displayName: z.string() }),
    challenge: z.string(),
    pubKeyCredParams: z.array(z.looseObject({ type: z.literal("public-key"), alg: z.number() })),
    timeout: z.optional(z.number()),
    excludeCredentials: z.optional(z.array(credentialDescriptor)),
  }),
);

export const passkeyRequestOptions = named(
  "PasskeyRequestOptions",
  "WebAuthn PublicKeyCredentialRequestOptions in their JSON form (binary values base64url): " +
    "pass to navigator.credentials.get after decoding challenge and allowCredentials ids. " +
    "Empty allowCredentials asks for a discoverable passkey.",
  z.looseObject({
    challenge: z.string(),
    rpId: z.optional(z.string()),
    timeout: z.optional(z.number()),
    allowCredentials: z.optional(z.array(credentialDescriptor)),
    userVerification: z.optional(z.string()),
  }),
);

export const rfcIntrospection = named(
  "TokenIntrospection",
  "RFC 7662: for a live access token of the key's app, its standard claims and how the user signed in (`amr`, `aal`); otherwise only `active: false`.",
  z.union([
    z.strictObject({
      active: z.literal(true),
      client_id: z.string(),
      token_type: z.literal("Bearer"),
      exp: seconds,
      iat: seconds,
      sub: z.uuid(),
      aud: z.string(),
      iss: z.string(),
      jti: z.string(),
      amr: z.array(z.string()),
      aal: z.union([z.literal(1), z.literal(2)]),
    }),
    z.strictObject({ active: z.literal(false) }),
  ]),
);

const adminUser = named(
  "AdminUser",
  "A user as the admin API shows it: the public fields, and whether an operator disabled it.",
  z.strictObject({
    ...user.shape,
    disabledAt: z.nullable(timestamp),
  }) satisfies z.ZodMiniType<AdminUserView>,
);

const nextCursor = z
  .nullable(z.string())
  .check(z.meta({ description: "Pass as `cursor` for the next page; null on the last page." }));

export const userPage = named(
  "UserPage",
  "One page of the app's users, oldest first.",
  z.strictObject({ users: z.array(adminUser), nextCursor }) satisfies z.ZodMiniType<UserPage>,
);

export const adminUserEnvelope = z.strictObject({ user: adminUser });

export const userDetail = named(
  "UserDetail",
  "A user of the app with its live sessions (`current` is always false here) and its second factors.",
  z.strictObject({
    user: adminUser,
    sessions: z.array(session),
    mfa: factors,
  }) satisfies z.ZodMiniType<UserDetail>,
);

export const loggedOut = z.strictObject({ sessionsEnded: seconds });

export const auditEntry = named(
  "AuditEntry",
  "One security event of the app.",
  z.strictObject({
    id: z.uuid(),
    event: z.string(),
    userId: z.nullable(z.uuid()),
    ip: z.nullable(z.string()),
    userAgent: z.nullable(z.string()),
    details: z.nullable(z.record(z.string(), z.unknown())),
    createdAt: timestamp,
  }) satisfies z.ZodMiniType<AuditEntry>,
);

export const auditPage = named(
  "AuditPage",
  "One page of the app's audit, oldest first.",
  z.strictObject({ events: z.array(auditEntry), nextCursor }) satisfies z.ZodMiniType<AuditPage>,
);
