/**
 * Reading JSON bodies: one path from raw request to a validated value or a coded error.
 * The size limit is enforced earlier, by the app's body-limit middleware.
 */

import type * as z from "zod/mini";
import { ApiError } from "../errors";

export async function readJson<T extends z.ZodMiniType>(request: Request, schema: T): Promise<z.infer<T>> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new ApiError("unsupported_media_type");
  let value: unknown;
  try {
    value = JSON.parse(await request.text());
  } catch {
    throw new ApiError("invalid_json");
  }
  return validate(schema, value);
}

export function isFormRequest(request: Request): boolean {
  return /^application\/x-www-form-urlencoded\s*(;|$)/i.test(request.headers.get("content-type") ?? "");
}

/**
 * Reads an application/x-www-form-urlencoded body (OAuth clients send one). A parameter sent
 * twice is refused, as RFC 6749 §3.1 requires.
 */
export async function readForm<T extends z.ZodMiniType>(request: Request, schema: T): Promise<z.infer<T>> {
  // Decoded as UTF-8, as the media type defines; workerd warns on text() of a non-text type.
  const params = new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer()));
  const value: Record<string, string> = {};
  for (const [name, text] of params) {
    if (name in value) throw new ApiError("validation_failed", `${name}: sent more than once`, name);
    value[name] = text;
  }
  return validate(schema, value);
}

/** Validates any input (body, params, headers); the first problem names its field. */
export function validate<T extends z.ZodMiniType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join(".") : undefined;
  const message = field ? `${field}: ${issue?.message}` : "The request body must be a JSON object";
  throw new ApiError("validation_failed", message, field);
}
