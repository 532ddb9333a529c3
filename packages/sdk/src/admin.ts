/**
 * For app backends and operators' tools: the admin API of one app, authenticated with an app
 * key (`gravy app key create`). Server-side only: an app key must never reach a browser.
 */
import { type CallOptions, createTransport, json, send, type Transport } from "./http.js";
import type {
  AdminUser,
  AdminUserDetail,
  AdminUserPage,
  AuditEntry,
  AuditFilter,
  AuditPage,
  FetchLike,
  TokenIntrospection,
} from "./types.js";

export interface TurKeyAdminOptions {
  /** Where Turkey runs, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** An app key, `tk_<appId>_…`; it names its app. */
  appKey: string;
  fetch?: FetchLike;
}

const APP_KEY = /^tk_([A-Za-z0-9][A-Za-z0-9._-]{0,63})_[A-Za-z0-9_-]{43}$/;

/**
 * The admin API of the key's app. Every call is audited under the key's name.
 *
 * @example
 * const admin = new TurKeyAdmin({ baseUrl: "https://auth.example.com", appKey: process.env.TURKEY_APP_KEY });
 * const { users } = await admin.listUsers({ query: "alice@" });
 * await admin.disableUser(users[0].id);
 */
export class TurKeyAdmin {
  readonly appId: string;
  readonly #transport: Transport;
  readonly #key: string;

  constructor(options: TurKeyAdminOptions) {
    const appId = APP_KEY.exec(options.appKey ?? "")?.[1];
    if (!appId) throw new TypeError("TurKeyAdmin: appKey must be an app key (tk_<appId>_…)");
    this.appId = appId;
    this.#key = options.appKey;
    this.#transport = createTransport({ ...options, appId });
  }

  /** Users by email prefix or id, oldest first; follow `nextCursor` for more. */
  listUsers(params: { query?: string; limit?: number; cursor?: string } = {}): Promise<AdminUserPage> {
    return this.#call(`/users${queryString(params)}`);
  }

  getUser(userId: string): Promise<AdminUserDetail> {
    return this.#call(`/users/${encodeURIComponent(userId)}`);
  }

  /** Disables the account and ends every session and live access token at once. */
  async disableUser(userId: string): Promise<AdminUser> {
    return (await this.#action<{ user: AdminUser }>(userId, "disable")).user;
  }

  async enableUser(userId: string): Promise<AdminUser> {
    return (await this.#action<{ user: AdminUser }>(userId, "enable")).user;
  }

  async verifyEmail(userId: string): Promise<AdminUser> {
    return (await this.#action<{ user: AdminUser }>(userId, "verify-email")).user;
  }

  /** Deletes the user as its own deletion would: tokens revoked, rows gone, the audit pseudonymous. */
  async deleteUser(userId: string): Promise<void> {
    await this.#call<void>(`/users/${encodeURIComponent(userId)}`, { method: "DELETE" });
  }

  /** Ends every session of the user; resolves to how many ended. */
  async logoutUser(userId: string): Promise<number> {
    return (await this.#action<{ sessionsEnded: number }>(userId, "logout")).sessionsEnded;
  }

  /** One page of the app's audit, oldest first. */
  listAudit(filter: AuditFilter & { limit?: number } = {}): Promise<AuditPage> {
    return this.#call(`/audit${queryString(filter)}`);
  }

  /**
   * Every matching audit entry, streamed (NDJSON) and yielded one at a time.
   *
   * @example
   * for await (const entry of admin.exportAudit({ since: "2026-01-01T00:00:00Z" })) archive(entry);
   */
  async *exportAudit(filter: AuditFilter = {}): AsyncGenerator<AuditEntry> {
    const response = await this.#send(`/v1/admin/audit${queryString(filter)}`, {}, "application/x-ndjson");
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) if (line) yield JSON.parse(line) as AuditEntry;
    }
    if (buffered.trim()) yield JSON.parse(buffered) as AuditEntry;
  }

  /** RFC 7662 introspection of an access token for this app. */
  async introspect(token: string): Promise<TokenIntrospection> {
    return json<TokenIntrospection>(await this.#send("/v1/auth/introspect", { form: { token } }));
  }

  #action<T>(userId: string, action: string): Promise<T> {
    return this.#call(`/users/${encodeURIComponent(userId)}/${action}`, { method: "POST" });
  }

  async #call<T>(path: string, options: CallOptions = {}): Promise<T> {
    return json<T>(await this.#send(`/v1/admin${path}`, options));
  }

  #send(path: string, options: CallOptions, accept = "application/json"): Promise<Response> {
    return send(this.#transport, path, options, { Authorization: `Bearer ${this.#key}`, Accept: accept });
  }
}

function queryString(params: object): string {
  const entries = Object.entries(params).filter(([, value]) => value !== undefined);
  return entries.length > 0 ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : "";
}
