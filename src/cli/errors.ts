/**
 * Turning failures into the one line an operator reads. Never a stack trace, never a query's
 * parameters (drizzle puts them in its error message) and never a connection string's password.
 */
import { ConfigError } from "../config";
import { ApiError } from "../errors";

/** A failure the CLI explains itself: its message is printed as is. */
export class CliError extends Error {
  override readonly name = "CliError";
}

/** Where the CLI tried to connect, without credentials, and a hint for when that fails. */
export interface TargetDescription {
  label: string;
  hint?: string;
}

interface PgLikeError {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host lookup failed",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
};

const SQLSTATE_MEANINGS: Record<string, string> = {
  "28P01": "authentication failed",
  "28000": "connection not authorised",
  "3D000": "database does not exist",
  "42501": "permission denied",
  "57P03": "the server is starting up or shutting down",
  "53300": "too many connections",
};

/** One line describing any error, for stderr. */
export function describeFailure(error: unknown, target?: TargetDescription): string {
  if (error instanceof CliError || error instanceof ConfigError) return error.message;
  if (error instanceof ApiError) return error.message;
  const cause = rootCause(error);
  const network = networkProblem(cause);
  if (network) {
    const where = target ? ` at ${target.label}` : "";
    return `Cannot reach the database${where} (${network})${target?.hint ? `: ${target.hint}` : ""}`;
  }
  const code = typeof cause.code === "string" ? cause.code : undefined;
  const message = oneLine(typeof cause.message === "string" ? cause.message : String(cause));
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    const meaning = SQLSTATE_MEANINGS[code];
    // With a target, the failure came while connecting: say where (a wrong host or database).
    const where = target ? ` (${target.label})` : "";
    return meaning
      ? `Database error: ${meaning}: ${message}${where}`
      : `Database error: ${message} (SQLSTATE ${code})${where}`;
  }
  return target
    ? `Cannot connect to the database at ${target.label}: ${message}`
    : `Unexpected error: ${message}`;
}

/** drizzle wraps the driver's error in one whose message holds the SQL and its parameters. */
function rootCause(error: unknown): PgLikeError {
  let current: unknown = error;
  for (let depth = 0; depth < 5; depth++) {
    const next = typeof current === "object" && current !== null ? (current as PgLikeError).cause : undefined;
    if (next === undefined || next === null) break;
    current = next;
  }
  return typeof current === "object" && current !== null ? (current as PgLikeError) : { message: current };
}

function networkProblem(error: PgLikeError): string | undefined {
  const codes = [error.code, ...(Array.isArray(error.errors) ? error.errors.map(codeOf) : [])];
  for (const code of codes) {
    if (typeof code === "string" && NETWORK_CODES[code]) return NETWORK_CODES[code];
  }
  const message = typeof error.message === "string" ? error.message : "";
  if (/timeout|terminated unexpectedly/i.test(message)) return oneLine(message);
  return undefined;
}

function codeOf(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as PgLikeError).code : undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
