/**
 * The shapes of Turkey's HTTP contract as the SDK sees them. Kept free of server imports so
 * the browser bundle and its declarations stand alone; a type test keeps them in step with
 * the server's own types.
 */

/** A user of one app, as every endpoint returns it. Never carries a password hash. */
export interface User {
  id: string;
  appId: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  /** ISO 8601. */
  createdAt: string;
}

/** The answer of register (without verification), login and refresh. */
export interface TokenResponse {
  user: User;
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** Seconds until the refresh token expires. */
  refreshExpiresIn: number;
}

/** Register's answer when the server wants the email verified before it issues tokens. */
export interface VerificationRequired {
  user: User;
  verificationRequired: true;
}

export type RegisterResponse = TokenResponse | VerificationRequired;

export interface UserResponse {
  user: User;
}

export interface AcceptedResponse {
  accepted: true;
}

/** One signed-in device or browser of the user in this app. */
export interface SessionInfo {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  userAgent: string | null;
  ip: string | null;
  /** True for the session of the access token that asked. */
  current: boolean;
}

export interface SessionsResponse {
  sessions: SessionInfo[];
}

/** The claims of a live access token, as introspection returns them. */
export interface AccessTokenClaims {
  iss: string;
  /** The user id. */
  sub: string;
  /** The app id the token was issued for. */
  aud: string;
  /** RFC 9068: the app id again (absent on tokens issued before Turkey followed RFC 9068). */
  client_id?: string;
  exp: number;
  iat: number;
  jti: string;
  /** The session id. */
  sid: string;
  email: string;
  email_verified: boolean;
  /** How the user signed in (RFC 8176): `["pwd"]`, `["pwd", "otp"]`, … */
  amr: string[];
  /** Authenticator assurance level: 2 once a second factor was used. */
  aal: 1 | 2;
}

export type IntrospectionResponse = ({ active: true } & AccessTokenClaims) | { active: false };

/** Login's answer when the user has a second factor: call `verifyMfa` with a code next. */
export interface MfaRequired {
  mfaRequired: true;
  /** What `verifyMfa` accepts. */
  methods: ("totp" | "recovery_code" | "passkey")[];
}

export type LoginResponse = TokenResponse | MfaRequired;

/**
 * A current code from the authenticator app, one of the recovery codes, or `{ passkey: true }`
 * to sign with one of the user's passkeys (the browser asks for it).
 */
export type SecondFactorInput = { code: string } | { recoveryCode: string } | { passkey: true };

/** A passkey of the user; the key itself never leaves the authenticator. */
export interface Passkey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** `singleDevice`: bound to one authenticator; `multiDevice`: synced between devices. */
  deviceType: "singleDevice" | "multiDevice";
  backedUp: boolean;
}

export interface PasskeysResponse {
  passkeys: Passkey[];
}

export interface RegisterPasskeyInput {
  /** Shown in the user's list of passkeys; `Passkey` if absent. */
  name?: string;
}

export interface PasskeyLoginInput {
  /** Offer only this user's passkeys; without it, the browser offers every passkey it has for the site. */
  email?: string;
}

/** A pending TOTP factor: show `otpauthUrl` as a QR code (or `secret` to type in). */
export interface TotpEnrollment {
  secret: string;
  otpauthUrl: string;
}

/** Shown once, after `confirmTotp`: ten single-use codes for when the authenticator is lost. */
export interface RecoveryCodesResponse {
  recoveryCodes: string[];
}

export interface RegisterInput {
  email: string;
  password: string;
  name?: string;
}

export interface LoginInput {
  email: string;
  password: string;
}

export interface EmailInput {
  email: string;
}

export interface TokenInput {
  token: string;
}

export interface ResetPasswordInput {
  token: string;
  password: string;
}

export interface ChangePasswordInput {
  currentPassword: string;
  newPassword: string;
}

export interface CodeInput {
  code: string;
}

export interface ChangeEmailInput {
  newEmail: string;
  password: string;
}

/** The code mailed with its address, or the token of the mailed link. */
export type EmailLoginInput = { email: string; code: string } | { token: string };

export interface PasswordInput {
  password: string;
}

/** The account's password, or a code from `requestDeletionCode` (accounts without one). */
export type DeleteAccountInput = PasswordInput | { code: string };

/** Everything the server holds about the user in this app (`exportAccount`). */
export interface AccountExport {
  exportedAt: string;
  app: { id: string; name: string };
  user: User;
  sessions: {
    id: string;
    createdAt: string;
    lastUsedAt: string;
    expiresAt: string;
    endedAt: string | null;
    ip: string | null;
    userAgent: string | null;
  }[];
  passkeys: Passkey[];
  auditEvents: {
    event: string;
    createdAt: string;
    ip: string | null;
    userAgent: string | null;
    details: Record<string, unknown>;
  }[];
}

export type OAuthProvider = "google" | "github" | "microsoft" | "apple" | "oidc";

export interface OAuthInput {
  provider: OAuthProvider;
  /** One of the app's registered return URLs, exactly (`gravy app redirect add`). */
  redirectTo: string;
}

/** A provider account linked to the user. */
export interface Identity {
  id: string;
  provider: string;
  email: string | null;
  emailVerified: boolean;
  createdAt: string;
  lastSignInAt: string | null;
}

export interface SessionIdInput {
  id: string;
}

/** What the client keeps between page loads. */
export interface StoredSession {
  user: User;
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch (by the client's clock). */
  expiresAt: number;
}

export type AuthChangeEvent = "signed_in" | "signed_out" | "token_refreshed" | "user_updated";

/** Called on every change of the signed-in state; `user` is null after sign-out. */
export type AuthStateListener = (event: AuthChangeEvent, user: User | null) => void;

/** The subset of `fetch` the SDK uses, so tests and servers can pass their own. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** A user as the admin API shows it. */
export interface AdminUser extends User {
  /** When an operator disabled the account; null while it is enabled. */
  disabledAt: string | null;
}

export interface AdminUserPage {
  users: AdminUser[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface AdminUserDetail {
  user: AdminUser;
  sessions: SessionInfo[];
  /** Second factors (pending ones with confirmedAt null), the unused recovery codes left, the passkeys. */
  mfa: {
    factors: { kind: "totp"; createdAt: string; confirmedAt: string | null }[];
    recoveryCodesLeft: number;
    passkeys: Passkey[];
  };
}

export interface AuditEntry {
  id: string;
  event: string;
  userId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown> | null;
  createdAt: string;
}

export interface AuditPage {
  events: AuditEntry[];
  nextCursor: string | null;
}

export interface AuditFilter {
  /** ISO 8601; inclusive. */
  since?: string;
  /** ISO 8601; exclusive. */
  until?: string;
  event?: string;
  userId?: string;
  cursor?: string;
}

/** RFC 7662's answer, as Turkey gives it to an app key. */
export type TokenIntrospection =
  | {
      active: true;
      client_id: string;
      token_type: "Bearer";
      exp: number;
      iat: number;
      sub: string;
      aud: string;
      iss: string;
      jti: string;
    }
  | { active: false };
