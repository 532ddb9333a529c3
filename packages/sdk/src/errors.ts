/** The SDK's one error type: the server's stable codes, plus a few of the client's own. */

/** Codes the client raises itself, when there is no server answer to report. */
export type ClientErrorCode =
  /** The request never got an answer: offline, DNS, refused by CORS, aborted. */
  | "network_error"
  /** The server answered with something that is not Turkey's JSON. */
  | "invalid_response"
  /** The method needs a signed-in user and there is none. */
  | "not_signed_in"
  /** The browser has no WebAuthn, or no passkey was chosen (a cancelled prompt throws the browser's NotAllowedError). */
  | "passkey_unavailable";

/**
 * A server error code from the README's table (`invalid_credentials`, `rate_limited`, …) or a
 * client code. Typed open-ended so codes the server adds later still type-check.
 */
export type TurKeyErrorCode = ClientErrorCode | (string & {});

export interface TurKeyErrorInit {
  code: TurKeyErrorCode;
  message: string;
  /** HTTP status; 0 when there was no answer. */
  status: number;
  field?: string;
  retryAfter?: number;
  cause?: unknown;
}

/** Refresh-token answers after which the stored session is worthless and is dropped. */
export const SESSION_ENDED_CODES: readonly string[] = [
  "refresh_token_reused",
  "invalid_refresh_token",
  "refresh_token_expired",
];

/**
 * Every failure of the SDK. Switch on `code`, never on `message`.
 *
 * @example
 * try {
 *   await turkey.login({ email, password });
 * } catch (error) {
 *   if (error instanceof TurKeyError && error.code === "invalid_credentials") showWrongPassword();
 *   else if (error instanceof TurKeyError && error.retryAfter) wait(error.retryAfter);
 *   else throw error;
 * }
 */
export class TurKeyError extends Error {
  override readonly name = "TurKeyError";
  readonly code: TurKeyErrorCode;
  /** HTTP status of the answer; 0 for client-side codes. */
  readonly status: number;
  /** The request field at fault, for `validation_failed`. */
  readonly field: string | undefined;
  /** Seconds to wait before trying again (from `Retry-After`), for 429 answers. */
  readonly retryAfter: number | undefined;

  constructor(init: TurKeyErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.field = init.field;
    this.retryAfter = init.retryAfter;
  }
}

/** True for the answers that mean the stored refresh token can never work again. */
export function endsSession(error: unknown): error is TurKeyError {
  return error instanceof TurKeyError && SESSION_ENDED_CODES.includes(error.code);
}
