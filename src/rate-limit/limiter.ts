/**
 * The RateLimiter Durable Object: one instance per key, so each key's counting is exact and
 * serialised. Two uses share it:
 * - a sliding-window log (`hit`): at most `max` requests in any window of `windowMs` — the
 *   Workers rate-limit binding only knows 10 s and 60 s periods and is approximate;
 * - the password attempts of one account (`reserveAttempt` / `settleAttempt` /
 *   `clearAttempts`), whose rules live in ./attempts.
 * Callers pass `now`, so the whole system runs on one clock (and tests can move it). Each
 * read-modify-write uses the synchronous storage API, so no other call can interleave between
 * the read and the write (with awaits between them, parallel calls were seen to lose an update
 * and admit one attempt too many).
 */
import { DurableObject } from "cloudflare:workers";
import {
  type AttemptPolicy,
  type AttemptState,
  emptyState,
  idleUntilMs,
  type Reservation,
  release,
  reserve,
  type Settlement,
  settle,
} from "./attempts";

export interface HitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until a request would be allowed again (0 while allowed). */
  retryAfterSeconds: number;
  /** Seconds until the window has room for the full limit again. */
  resetSeconds: number;
}

export class RateLimiter extends DurableObject {
  /** Counts a request if the window has room; never counts refused ones. */
  async hit(nowMs: number, windowMs: number, max: number): Promise<HitResult> {
    const since = nowMs - windowMs;
    const log = (this.ctx.storage.kv.get<number[]>("log") ?? []).filter((at) => at > since);
    const allowed = log.length < max;
    if (allowed) log.push(nowMs);
    this.ctx.storage.kv.put("log", log);
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

  /** Claims one password attempt from `network`, before the password is checked. */
  async reserveAttempt(nowMs: number, network: string, policy: AttemptPolicy): Promise<Reservation> {
    const state = this.attempts();
    const reservation = reserve(state, network, nowMs, policy, crypto.randomUUID());
    if (reservation.allowed) await this.saveAttempts(state, nowMs, policy);
    return reservation;
  }

  /** Records the outcome of a reserved attempt. */
  async settleAttempt(
    nowMs: number,
    network: string,
    id: string,
    succeeded: boolean,
    policy: AttemptPolicy,
  ): Promise<Settlement> {
    const state = this.attempts();
    const settlement = settle(state, network, id, succeeded, nowMs, policy);
    await this.saveAttempts(state, nowMs, policy);
    return settlement;
  }

  /**
   * Frees a reserved attempt, neither a success nor a failure: a right password with a second
   * factor still to come must not clear the failures that factor's guesses add to.
   */
  async releaseAttempt(nowMs: number, id: string, policy: AttemptPolicy): Promise<void> {
    const state = this.attempts();
    release(state, id);
    await this.saveAttempts(state, nowMs, policy);
  }

  /** Forgets every failure and lock of the account (after a completed password reset). */
  async clearAttempts(): Promise<void> {
    this.ctx.storage.kv.delete("attempts");
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  private attempts(): AttemptState {
    return this.ctx.storage.kv.get<AttemptState>("attempts") ?? emptyState();
  }

  private async saveAttempts(state: AttemptState, nowMs: number, policy: AttemptPolicy): Promise<void> {
    this.ctx.storage.kv.put("attempts", state);
    await this.expireWhenIdleFor(Math.max(0, idleUntilMs(state, policy) - nowMs));
  }

  /** Deletes this key's state once it has been idle that long (alarms run on real time). */
  private async expireWhenIdleFor(durationMs: number): Promise<void> {
    const atMs = Date.now() + durationMs;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current < atMs) await this.ctx.storage.setAlarm(atMs);
  }
}
