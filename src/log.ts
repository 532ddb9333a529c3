/**
 * Structured logging: one JSON object per line, readable by `wrangler tail` and log drains.
 * Callers pass facts, never secrets (no passwords, tokens or hashes).
 */
type Level = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

function write(level: Level, message: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ level, message, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export const log: Logger = {
  info: (message, fields) => write("info", message, fields),
  warn: (message, fields) => write("warn", message, fields),
  error: (message, fields) => write("error", message, fields),
};

/**
 * What may be logged of an unexpected error: its kind, message and code, never request data.
 * A failed query's own message repeats the SQL parameters (hashes, emails), so for those only
 * the database's underlying error is described.
 */
export function describeError(error: unknown): LogFields {
  if (!(error instanceof Error)) return { errorName: typeof error };
  if (error.message.startsWith("Failed query") && error.cause !== undefined) {
    return { errorName: "QueryError", ...describeCause(error.cause) };
  }
  return { errorName: error.name, errorMessage: error.message };
}

function describeCause(cause: unknown): LogFields {
  if (!(cause instanceof Error)) return {};
  const code = (cause as Error & { code?: unknown }).code;
  return { errorMessage: cause.message, ...(typeof code === "string" ? { errorCode: code } : {}) };
}
