/** One JSON request to Turkey, turning every failure into a TurKeyError. */
import { TurKeyError } from "./errors.js";
import type { FetchLike } from "./types.js";

export interface Transport {
  baseUrl: string;
  appId: string;
  fetch: FetchLike;
  now: () => number;
}

export interface CallOptions {
  method?: "GET" | "POST" | "DELETE";
  body?: unknown;
  /** Sent form-encoded instead of a JSON body (RFC 7662 introspection). */
  form?: Record<string, string>;
  token?: string;
}

interface ErrorPayload {
  error?: { code?: unknown; message?: unknown; field?: unknown };
}

/** Builds a transport, defaulting to the global fetch and clock. */
export function createTransport(options: {
  baseUrl: string;
  appId: string;
  fetch?: FetchLike | undefined;
  now?: (() => number) | undefined;
}): Transport {
  if (!options.baseUrl || !options.appId) throw new TypeError("TurKey: baseUrl and appId are required");
  return {
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    appId: options.appId,
    // Called through a closure: a detached `window.fetch` throws "Illegal invocation".
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    now: options.now ?? Date.now,
  };
}

/** Sends one request under /v1/auth; resolves to the JSON (undefined for 204). */
export async function call<T>(transport: Transport, path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { "X-App-Id": transport.appId };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return json<T>(await send(transport, `/v1/auth${path}`, options, headers));
}

/** Sends one request under /v1; resolves to the answer, throwing a TurKeyError unless it is 2xx. */
export async function send(
  transport: Transport,
  path: string,
  options: CallOptions,
  headers: Record<string, string>,
): Promise<Response> {
  let body: string | undefined;
  if (options.form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(options.form).toString();
  } else if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await transport.fetch(`${transport.baseUrl}${path}`, {
      method: options.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      body,
    });
  } catch (cause) {
    throw new TurKeyError({ code: "network_error", status: 0, message: "Could not reach the server", cause });
  }
  if (!response.ok) {
    throw toError(response, await response.json().catch(() => undefined), transport.now());
  }
  return response;
}

/** The JSON of a 2xx answer (undefined for 204). */
export async function json<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const data: unknown = await response.json().catch(() => undefined);
  if (data === undefined) throw invalidResponse(response.status);
  return data as T;
}

function toError(response: Response, data: unknown, nowMs: number): TurKeyError {
  const error = (data as ErrorPayload | undefined)?.error;
  if (typeof error?.code !== "string") return invalidResponse(response.status);
  return new TurKeyError({
    code: error.code,
    message: typeof error.message === "string" ? error.message : error.code,
    status: response.status,
    field: typeof error.field === "string" ? error.field : undefined,
    retryAfter: parseRetryAfter(response.headers.get("Retry-After"), nowMs),
  });
}

function invalidResponse(status: number): TurKeyError {
  return new TurKeyError({ code: "invalid_response", status, message: `Unexpected answer (HTTP ${status})` });
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}
