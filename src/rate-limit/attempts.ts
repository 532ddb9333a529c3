/**
 * Password guesses against one account (app, email), as pure state transitions; the
 * RateLimiter Durable Object keeps one such state per account and applies them serially.
 *
 * - An attempt is reserved *before* the password is verified, so guesses arriving while a
 *   hash is computed are counted too: parallel guesses can never exceed the bound.
 * - The hard lock is per client network: an attacker's failures lock the account for the
 *   attacker's network only, never the owner's at theirs.
 * - A ceiling across all networks bounds distributed guessing (NIST SP 800-63B: at most 100
 *   consecutive failures). A success, or a completed password reset, clears it all.
 */

export interface AttemptPolicy {
  /** Consecutive failures from one network before that network is locked out. */
  threshold: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures from all networks together allowed within `ceilingWindowMs`. */
  ceiling: number;
  ceilingWindowMs: number;
}

export const ATTEMPT_POLICY: AttemptPolicy = {
  threshold: 5,
  baseDelayMs: 60_000,
  maxDelayMs: 15 * 60_000,
  ceiling: 100,
  ceilingWindowMs: 24 * 3600_000,
};

/** A reservation not settled within this time (a request that died) frees its slot. */
export const PENDING_TTL_MS = 30_000;
/** A network's failure streak is forgotten this long after its last failure or lock. */
const STREAK_MEMORY_MS = 24 * 3600_000;

export interface NetworkRecord {
  failures: number;
  lockedUntilMs: number;
  lastFailureMs: number;
}

export interface AttemptState {
  networks: Record<string, NetworkRecord>;
  /** When each failure counted by the ceiling happened, oldest first. */
  failuresAt: number[];
  pending: Record<string, { network: string; untilMs: number }>;
}

export type Reservation =
  | { allowed: true; id: string }
  | { allowed: false; retryAfterSeconds: number; reason: "locked" | "in_flight" | "ceiling" };

export interface Settlement {
  /** True when this failure locked the network (or hit the ceiling): worth an audit row. */
  lockedNow: boolean;
  failures: number;
  retryAfterSeconds: number;
}

export function emptyState(): AttemptState {
  return { networks: {}, failuresAt: [], pending: {} };
}

export function reserve(
  state: AttemptState,
  network: string,
  nowMs: number,
  policy: AttemptPolicy,
  id: string,
): Reservation {
  prune(state, nowMs, policy);
  const record = state.networks[network];
  if (record && record.lockedUntilMs > nowMs) {
    return { allowed: false, reason: "locked", retryAfterSeconds: secondsUntil(record.lockedUntilMs, nowMs) };
  }
  const pending = Object.values(state.pending);
  if (state.failuresAt.length + pending.length >= policy.ceiling) {
    const oldest = state.failuresAt[0];
    const freeAtMs = oldest === undefined ? nowMs + 1000 : oldest + policy.ceilingWindowMs;
    return { allowed: false, reason: "ceiling", retryAfterSeconds: secondsUntil(freeAtMs, nowMs) };
  }
  const pendingHere = pending.filter((entry) => entry.network === network).length;
  // Every attempt in flight may still fail: admit only as many as could fail before the lock
  // (once past the threshold, one at a time between locks).
  const failures = record?.failures ?? 0;
  const room = failures >= policy.threshold ? 1 : policy.threshold - failures;
  if (pendingHere >= room) {
    return { allowed: false, reason: "in_flight", retryAfterSeconds: 1 };
  }
  state.pending[id] = { network, untilMs: nowMs + PENDING_TTL_MS };
  return { allowed: true, id };
}

/** Frees a reserved attempt without counting it either way (a right password, second factor pending). */
export function release(state: AttemptState, id: string): void {
  delete state.pending[id];
}

export function settle(
  state: AttemptState,
  network: string,
  id: string,
  succeeded: boolean,
  nowMs: number,
  policy: AttemptPolicy,
): Settlement {
  delete state.pending[id];
  if (succeeded) {
    delete state.networks[network];
    state.failuresAt = [];
    return { lockedNow: false, failures: 0, retryAfterSeconds: 0 };
  }
  const record = state.networks[network] ?? { failures: 0, lockedUntilMs: 0, lastFailureMs: 0 };
  record.failures += 1;
  record.lastFailureMs = nowMs;
  const over = record.failures - policy.threshold;
  if (over >= 0) record.lockedUntilMs = nowMs + Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** over);
  state.networks[network] = record;
  state.failuresAt.push(nowMs);
  const ceilingHit = state.failuresAt.length === policy.ceiling;
  return {
    lockedNow: over >= 0 || ceilingHit,
    failures: record.failures,
    retryAfterSeconds: over >= 0 ? secondsUntil(record.lockedUntilMs, nowMs) : 0,
  };
}

/** When this state can be forgotten entirely (nothing locked, pending or counted). */
export function idleUntilMs(state: AttemptState, policy: AttemptPolicy): number {
  const times = [
    ...Object.values(state.networks).map((r) =>
      Math.max(r.lockedUntilMs, r.lastFailureMs + STREAK_MEMORY_MS),
    ),
    ...state.failuresAt.map((at) => at + policy.ceilingWindowMs),
    ...Object.values(state.pending).map((entry) => entry.untilMs),
  ];
  return Math.max(0, ...times);
}

function prune(state: AttemptState, nowMs: number, policy: AttemptPolicy): void {
  for (const [id, entry] of Object.entries(state.pending))
    if (entry.untilMs <= nowMs) delete state.pending[id];
  state.failuresAt = state.failuresAt.filter((at) => at > nowMs - policy.ceilingWindowMs);
  for (const [network, record] of Object.entries(state.networks)) {
    if (record.lockedUntilMs <= nowMs && record.lastFailureMs + STREAK_MEMORY_MS <= nowMs) {
      delete state.networks[network];
    }
  }
}

function secondsUntil(atMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((atMs - nowMs) / 1000));
}
