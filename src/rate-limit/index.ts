/**
 * Rate limiting and login lockout through the RateLimiter Durable Object. Both fail open:
 * if the limiter cannot be reached the request is served and the failure logged, since an
 * outage of the limiter must not become an outage of sign-in.
 */
import { describeError, log } from "../log";
import type { HitResult, LockoutPolicy, LockState, RateLimiter } from "./limiter";

export type LimiterNamespace = DurableObjectNamespace<RateLimiter>;

export interface RateLimitSettings {
  windowMs: number;
  max: number;
}

/** One shared counter per (app, client IP) for every credential endpoint. */
export async function hitRateLimit(
  namespace: LimiterNamespace,
  key: { appId: string; ip: string },
  settings: RateLimitSettings,
  nowMs: number,
): Promise<HitResult | undefined> {
  try {
    const stub = namespace.get(namespace.idFromName(`ip:${key.appId}:${key.ip}`));
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

export const LOCKOUT: LockoutPolicy = { threshold: 5, baseDelayMs: 60_000, maxDelayMs: 15 * 60_000 };

/** The lockout of one (app, email), whether or not that email has an account. */
export function lockoutFor(namespace: LimiterNamespace, appId: string, email: string, policy: LockoutPolicy) {
  const stub = () => namespace.get(namespace.idFromName(`login:${appId}:${email}`));
  const failOpen = async <T>(action: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await action();
    } catch (error) {
      log.error("login lockout unavailable; attempt allowed", describeError(error));
      return fallback;
    }
  };
  const open: LockState = { locked: false, retryAfterSeconds: 0, failures: 0 };
  return {
    check: (nowMs: number) => failOpen(() => stub().checkLock(nowMs), open),
    recordFailure: (nowMs: number) => failOpen(() => stub().recordLoginFailure(nowMs, policy), open),
    clear: () => failOpen(() => stub().clearLock(), undefined),
  };
}

export type Lockout = ReturnType<typeof lockoutFor>;
