/** Runs the SDK against the real app in workerd: a fetch that routes into the app and records calls. */

import { expect } from "vitest";
import {
  type FetchLike,
  type TokenResponse,
  type TurKeyClient,
  TurKeyError,
} from "../../packages/sdk/src/index";
import type { Bindings } from "../../src/context";
import { PASSWORD, type TestApp, uniqueEmail } from "./fixtures";
import { bindings, send } from "./worker";

export const BASE_URL = "https://auth.turkey.test";

export interface RecordedCall {
  method: string;
  path: string;
  appId: string | null;
}

export interface RoutedFetch {
  fetch: FetchLike;
  calls: RecordedCall[];
  /** How many requests went to this path (e.g. "/v1/auth/refresh"). */
  count(path: string): number;
}

/** A fetch that answers from `app` as the Worker would, keeping a log of every request. */
export function routedFetch(app: TestApp, overrides: Partial<Bindings> = {}): RoutedFetch {
  const calls: RecordedCall[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input);
    const appId = new Headers(init?.headers).get("x-app-id");
    calls.push({ method: init?.method ?? "GET", path: url.pathname, appId });
    return send(app, input, init, overrides);
  };
  return { fetch, calls, count: (path) => calls.filter((call) => call.path === path).length };
}

/** A fetch that always answers with the given status, body and headers. */
export function cannedFetch(status: number, body: unknown, headers: Record<string, string> = {}): FetchLike {
  return async () =>
    new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
}

/** Web Storage kept in a Map, standing in for `localStorage` inside workerd. */
export class MapStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

/** The token of the newest `/verify-email` or `/reset-password` link the fake Mailgun got for `email`. */
export async function mailedToken(
  email: string,
  path: "verify-email" | "reset-password" | "confirm-email",
): Promise<string> {
  const url = `${String(bindings.MAILGUN_API_BASE)}/recorded?to=${encodeURIComponent(email)}`;
  const messages = (await (await fetch(url)).json()) as { text: string }[];
  const pattern = new RegExp(`/${path}\\?token=([A-Za-z0-9_-]+)`);
  for (const message of messages.reverse()) {
    const token = pattern.exec(message.text)?.[1];
    if (token) return token;
  }
  throw new Error(`no ${path} link mailed to ${email}`);
}

/** The TurKeyError a call rejects with (fails the test if it resolves or throws anything else). */
export async function caught(promise: Promise<unknown>): Promise<TurKeyError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TurKeyError);
  return error as TurKeyError;
}

/** Registers through the client, which then holds a session. */
export async function signedIn(turkey: TurKeyClient, email = uniqueEmail()): Promise<TokenResponse> {
  const result = await turkey.register({ email, password: PASSWORD });
  if (!("accessToken" in result)) throw new Error("expected tokens");
  return result;
}
