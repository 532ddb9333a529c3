/**
 * The RateLimiter Durable Object: one instance per key, so each key's counting is exact and
 * serialised. Two uses share it:
 * - a sliding-window log (`hit`): at most `max` requests in any window of `windowMs` — the
 *   Workers rate-limit binding only knows 10 s and 60 s periods and is approximate;
 * - a login lockout (`checkLock` / `recordLoginFailure` / `clearLock`) with growing delays.
 * Callers pass `now`, so the whole system runs on one clock (and tests can move it).
 */
import { DurableObject } from "cloudflare:workers";

export interface HitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until a request would be allowed again (0 while allowed). */
  retryAfterSeconds: number;
  /** Seconds until the window has room for the full limit again. */
  resetSeconds: number;
}

export interface LockState {
  locked: boolean;
  retryAfterSeconds: number;
  /** Consecutive failures so far. */
  failures: number;
}

interface LockRecord {
  failures: number;
  lockedUntilMs: number;
}

export interface LockoutPolicy {
  threshold: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export class RateLimiter extends DurableObject {
  /** Counts a request if the window has room; never counts refused ones. */
  async hit(nowMs: number, windowMs: number, max: number): Promise<HitResult> {
    const since = nowMs - windowMs;
    const log = ((await this.ctx.storage.get<number[]>("log")) ?? []).filter((at) => at > since);
    const allowed = log.length < max;
    if (allowed) log.push(nowMs);
    await this.ctx.storage.put("log", log);
    await this.expireWhenIdleFor(windowMs);
    const oldest = log[0] ?? nowMs;
    const freeAtMs = log.length < max ? nowMs : oldest + windowMs;
    const newest = log[log.length - 1] ?? nowMs;
    return {
      allowed,
      limit: max,
      remaining: Math.max(0, max - log.length),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((freeAtMs - nowMs) / 1000)),
      resetSeconds: Math.max(0, Math.ceil((newest + windowMs - nowMs) / 1000)),
    };
  }

  async checkLock(nowMs: number): Promise<LockState> {
    const record = await this.ctx.storage.get<LockRecord>("lock");
    const failures = record?.failures ?? 0;
    if (!record || record.lockedUntilMs <= nowMs) return { locked: false, retryAfterSeconds: 0, failures };
    return { locked: true, retryAfterSeconds: Math.ceil((record.lockedUntilMs - nowMs) / 1000), failures };
  }

  /** Counts a consecutive failure; from the threshold on, each one locks for twice as long. */
  async recordLoginFailure(nowMs: number, policy: LockoutPolicy): Promise<LockState> {
    const record = (await this.ctx.storage.get<LockRecord>("lock")) ?? { failures: 0, lockedUntilMs: 0 };
    record.failures += 1;
    const over = record.failures - policy.threshold;
    if (over >= 0) {
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** over);
      record.lockedUntilMs = nowMs + delay;
    }
    await this.ctx.storage.put("lock", record);
    // Forget the streak a day after its last failure.
    await this.expireWhenIdleFor(Math.max(record.lockedUntilMs - nowMs, 0) + 86_400_000);
    return this.checkLock(nowMs);
  }

  async clearLock(): Promise<void> {
    await this.ctx.storage.delete("lock");
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  /** Deletes this key's state once it has been idle that long (alarms run on real time). */
  private async expireWhenIdleFor(durationMs: number): Promise<void> {
    const atMs = Date.now() + durationMs;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current < atMs) await this.ctx.storage.setAlarm(atMs);
  }
}
