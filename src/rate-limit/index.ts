/**
 * Rate limiting and password-attempt limits through the RateLimiter Durable Object.
 * - The per-network rate limit fails open: an outage of the limiter must not become an
 *   outage of sign-in, and the attempt limit below still bounds guessing.
 * - The attempt limit fails closed: without it a password attempt would go unchecked, so the
 *   caller answers 503 temporarily_unavailable instead.
 */
import { ApiError } from "../errors";
import { describeError, log } from "../log";
import { ATTEMPT_POLICY, type AttemptPolicy, type Reservation, type Settlement } from "./attempts";
import type { HitResult, RateLimiter } from "./limiter";

export { clientNetwork } from "./network";

export type LimiterNamespace = DurableObjectNamespace<RateLimiter>;

export interface RateLimitSettings {
  windowMs: number;
  max: number;
}

/** One counter per (scope, app, client network); undefined when the limiter is unreachable. */
export async function hitRateLimit(
  namespace: LimiterNamespace,
  key: { scope: string; appId: string; network: string },
  settings: RateLimitSettings,
  nowMs: number,
): Promise<HitResult | undefined> {
  try {
    const stub = namespace.get(namespace.idFromName(`${key.scope}:${key.appId}:${key.network}`));
    return await stub.hit(nowMs, settings.windowMs, settings.max);
  } catch (error) {
    log.error("rate limiter unavailable; request served", describeError(error));
    return undefined;
  }
}

export function rateLimitHeaders(result: HitResult): Record<string, string> {
  const headers: Record<string, string> = {
    "RateLimit-Limit": String(result.limit),
    "RateLimit-Remaining": String(result.remaining),
    "RateLimit-Reset": String(result.resetSeconds),
  };
  if (!result.allowed) headers["Retry-After"] = String(result.retryAfterSeconds);
  return headers;
}

/** How long a client should wait when the attempt limit cannot be asked. */
const UNAVAILABLE_RETRY_SECONDS = 5;

/** A reserved password attempt; settle it exactly once with the outcome. */
export interface Attempt {
  settle(succeeded: boolean): Promise<Settlement | undefined>;
  /** Frees the reservation without counting it (instead of settle). */
  release(): Promise<void>;
}

export type AttemptGuard = (nowMs: number) => Promise<Attempt>;

/**
 * The password attempts of one account (app, email) from one client network. Reserving
 * throws too_many_attempts when the network is locked out, the account's ceiling is reached
 * or enough attempts are already in flight, and temporarily_unavailable when the limiter
 * cannot be reached.
 */
export function attemptGuard(
  namespace: LimiterNamespace,
  account: { appId: string; email: string },
  network: string,
  policy: AttemptPolicy = ATTEMPT_POLICY,
): AttemptGuard {
  const stub = () => namespace.get(namespace.idFromName(accountKey(account)));
  return async (nowMs) => {
    let reservation: Reservation;
    try {
      reservation = await stub().reserveAttempt(nowMs, network, policy);
    } catch (error) {
      log.error("password attempt limit unavailable; attempt refused", describeError(error));
      throw new ApiError("temporarily_unavailable", undefined, undefined, {
        "Retry-After": String(UNAVAILABLE_RETRY_SECONDS),
      });
    }
    if (!reservation.allowed) {
      throw new ApiError("too_many_attempts", undefined, undefined, {
        "Retry-After": String(reservation.retryAfterSeconds),
      });
    }
    const { id } = reservation;
    return {
      settle: async (succeeded) => {
        try {
          return await stub().settleAttempt(nowMs, network, id, succeeded, policy);
        } catch (error) {
          // The reservation lapses on its own (PENDING_TTL_MS); the answer stands.
          log.error("password attempt not recorded", describeError(error));
          return undefined;
        }
      },
      release: async () => {
        try {
          await stub().releaseAttempt(nowMs, id, policy);
        } catch (error) {
          log.error("password attempt not released", describeError(error));
        }
      },
    };
  };
}

/** Clears every lock and count of the account, from every network (after a password reset). */
export async function clearAttempts(
  namespace: LimiterNamespace,
  account: { appId: string; email: string },
): Promise<void> {
  try {
    await namespace.get(namespace.idFromName(accountKey(account))).clearAttempts();
  } catch (error) {
    log.error("could not clear password attempts", describeError(error));
  }
}

function accountKey(account: { appId: string; email: string }): string {
  return `login:${account.appId}:${account.email}`;
}
