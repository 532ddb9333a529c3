/**
 * For app backends: is this access token live, and whose is it? Asks Turkey's introspection
 * endpoint rather than checking the signature locally, because only the server knows about
 * revocations (logout, logout-all, ended sessions) before the token's `exp`.
 */
import { TurKeyError } from "./errors.js";
import { call, createTransport, type Transport } from "./http.js";
import type { AccessTokenClaims, FetchLike, IntrospectionResponse } from "./types.js";

export interface TurKeyServerOptions {
  /** Where Turkey runs, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** This backend's app id; tokens of other apps are never accepted. */
  appId: string;
  /** The fetch to use; the global one by default. */
  fetch?: FetchLike;
}

/**
 * Verifies access tokens for one app's backend.
 *
 * @example
 * const turkey = new TurKeyServer({ baseUrl: "https://auth.example.com", appId: "customer-portal" });
 * const claims = await turkey.verifyAccessToken(bearerToken(request));
 * if (!claims) return new Response("Unauthorized", { status: 401 });
 */
export class TurKeyServer {
  readonly appId: string;
  readonly #transport: Transport;

  constructor(options: TurKeyServerOptions) {
    this.#transport = createTransport(options);
    this.appId = options.appId;
  }

  /**
   * The token's claims when it is live for this app, `null` when it is not (malformed,
   * expired, revoked, or issued for another app). Throws a `TurKeyError` when Turkey cannot
   * answer (network, misconfigured app id), so an outage is never mistaken for "signed out".
   *
   * @example
   * const claims = await turkey.verifyAccessToken(token);
   * if (claims) console.log(`user ${claims.sub}, session ${claims.sid}`);
   */
  async verifyAccessToken(token: string | null | undefined): Promise<AccessTokenClaims | null> {
    if (!token) return null;
    const answer = await call<IntrospectionResponse>(this.#transport, "/introspect", { body: { token } });
    if (typeof answer !== "object" || answer === null || typeof answer.active !== "boolean") {
      throw new TurKeyError({
        code: "invalid_response",
        status: 200,
        message: "Unexpected introspection answer",
      });
    }
    if (!answer.active) return null;
    // The server already pins the audience to the calling app; checking again costs nothing
    // and protects against a misrouted or tampered answer.
    if (answer.aud !== this.appId || typeof answer.sub !== "string") return null;
    const { active: _active, ...claims } = answer;
    return claims;
  }
}

/**
 * The token of an `Authorization: Bearer <token>` header, or `null`.
 *
 * @example
 * const claims = await turkey.verifyAccessToken(bearerToken(request));
 */
export function bearerToken(request: { headers: { get(name: string): string | null } }): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.get("Authorization") ?? "");
  return match?.[1] ?? null;
}

/**
 * True when the token's sign-in reached assurance level `level`: 2 means a second factor was
 * used (amr ["pwd","otp"]). Use it to demand a second factor for sensitive actions.
 *
 * @example
 * const claims = await turkey.verifyAccessToken(bearerToken(request));
 * if (!claims) return new Response("Unauthorized", { status: 401 });
 * if (!hasAal(claims, 2)) return new Response("Second factor required", { status: 403 });
 */
export function hasAal(
  claims: AccessTokenClaims | null | undefined,
  level: 1 | 2,
): claims is AccessTokenClaims {
  return claims != null && claims.aal >= level;
}
