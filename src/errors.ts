/**
 * The one error type of the API and its code table. Codes are part of the HTTP contract:
 * snake_case, documented in docs/how-it-works.md (a test keeps that table complete), never renamed once published.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

interface ErrorEntry {
  status: ContentfulStatusCode;
  message: string;
  /** Answered with a Retry-After header (seconds). */
  retryAfter?: true;
  /** May carry the RateLimit-* headers of the window it exceeded. */
  rateLimit?: true;
}

export const ERRORS = {
  not_found: { status: 404, message: "No such endpoint" },
  invalid_json: { status: 400, message: "The request body is not valid JSON" },
  unsupported_media_type: { status: 415, message: "Send the body as application/json" },
  payload_too_large: { status: 413, message: "The request body is too large" },
  validation_failed: { status: 400, message: "The request is not valid" },
  unknown_app: { status: 400, message: "Unknown or missing app; send X-App-Id" },
  invalid_credentials: { status: 401, message: "Email or password is wrong" },
  email_taken: { status: 409, message: "An account with this email already exists in this app" },
  email_not_verified: { status: 403, message: "Confirm your email address before signing in" },
  invalid_token: { status: 400, message: "This link is invalid or has expired" },
  invalid_code: { status: 401, message: "The code is wrong or has expired; ask for a new one" },
  email_login_disabled: { status: 403, message: "Sign-in by email is not enabled for this app" },
  invalid_grant: {
    status: 400,
    message: "The code is invalid, expired or already used, or the code verifier does not match",
  },
  token_missing: { status: 401, message: "Send an access token as Authorization: Bearer <token>" },
  token_invalid: { status: 401, message: "The access token is not valid" },
  token_expired: { status: 401, message: "The access token has expired" },
  token_revoked: { status: 401, message: "The access token has been revoked" },
  account_disabled: { status: 403, message: "This account has been disabled" },
  app_key_required: {
    status: 401,
    message: "Send an app key as Authorization: Bearer <app key>, or HTTP Basic with the app id and key",
  },
  invalid_app_key: { status: 401, message: "The app key is not valid for this app" },
  invalid_refresh_token: { status: 401, message: "The refresh token is not valid" },
  refresh_token_expired: { status: 401, message: "The refresh token has expired" },
  refresh_token_reused: {
    status: 401,
    message: "The refresh token was already used; the session has been ended",
  },
  mfa_token_invalid: {
    status: 401,
    message: "This sign-in step has expired or was already used; sign in again",
  },
  invalid_mfa_code: { status: 400, message: "The code is wrong, expired or already used" },
  mfa_already_enabled: { status: 409, message: "A second factor of this kind is already enabled" },
  mfa_not_enrolled: { status: 404, message: "No second factor of this kind is set up" },
  passkey_invalid: {
    status: 400,
    message: "The passkey could not be verified; ask for new options and try again",
  },
  provider_not_enabled: { status: 404, message: "This sign-in provider is not enabled for this app" },
  redirect_not_allowed: { status: 400, message: "The return URL is not registered for this app" },
  oauth_state_invalid: {
    status: 400,
    message: "This sign-in has expired or was already used; start it again",
  },
  access_denied: { status: 403, message: "The sign-in was cancelled at the provider" },
  provider_error: { status: 502, message: "The sign-in provider's answer could not be accepted" },
  provider_unavailable: { status: 503, message: "The sign-in provider could not be reached; try again" },
  email_required: { status: 400, message: "The sign-in provider did not share an email address" },
  account_exists: {
    status: 409,
    message: "An account with this email already exists; sign in to it, then link this provider",
  },
  identity_taken: { status: 409, message: "This provider account is already linked to another user" },
  identity_not_found: { status: 404, message: "No such linked sign-in for this user" },
  last_sign_in_method: {
    status: 409,
    message: "This is the account's last way to sign in; set a password or link another provider first",
  },
  rate_limited: {
    status: 429,
    message: "Too many requests; try again later",
    retryAfter: true,
    rateLimit: true,
  },
  too_many_attempts: {
    status: 429,
    message: "Too many failed sign-in attempts; try again later",
    retryAfter: true,
  },
  internal_error: { status: 500, message: "Something went wrong on our side" },
  configuration_error: { status: 500, message: "The server is misconfigured" },
  database_unavailable: { status: 503, message: "The database is unavailable", retryAfter: true },
  temporarily_unavailable: {
    status: 503,
    message: "The service is briefly unavailable; try again shortly",
    retryAfter: true,
  },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string };
}

export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: ContentfulStatusCode;

  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    /** The request field at fault, for validation errors. */
    readonly field?: string,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.status = ERRORS[code].status;
  }

  toBody(): ErrorBody {
    const error: ErrorBody["error"] = { code: this.code, message: this.message };
    if (this.field !== undefined) error.field = this.field;
    return { error };
  }
}
