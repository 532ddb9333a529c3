/**
 * Driving load with autocannon. A closed loop: a few keep-alive connections, each sending its
 * next request when the previous one is answered. Per scenario: one request per connection,
 * awaited (a "round": it tells how slow the scenario is), a timed warm-up where rounds are
 * short, then the measured window. Warm-up runs are thrown away (JIT, connections, caches).
 */
import autocannon from "autocannon";
import type { Scenario } from "./scenarios";

export interface LoadSettings {
  connections: number;
  warmupSeconds: number;
  /** The measured window, unless a scenario needs longer (see MIN_ROUNDS). */
  seconds: number;
}

export interface LoadFigures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers plus socket errors and timeouts, warm-up included. */
  errors: number;
  /** What the errors were, e.g. `HTTP 409×3, timeouts×1`; empty without errors. */
  errorDetail: string;
  /** 2xx answers in the measured window. None means nothing was measured: a failure too. */
  completed: number;
  /** Length of the measured window. */
  seconds: number;
  /** Requests answered in all runs, warm-up included. */
  answered: number;
}

/** Slower than this and a request counts as an error; login under load queues for seconds. */
const TIMEOUT_SECONDS = 30;

/**
 * The window lasts at least this many rounds. Where each request hashes a password, ten
 * connections take seconds per round, and a window of a round or two would measure mostly
 * its own edges (or nothing at all).
 */
export const MIN_ROUNDS = 3;

export async function measure(scenario: Scenario, settings: LoadSettings): Promise<LoadFigures> {
  const round = await fire(scenario, settings.connections, { amount: settings.connections });
  const roundSeconds = round.latency.max / 1000;
  const runs = [round];
  // A timed warm-up ends with requests cut off mid-flight that the server still finishes; where
  // a round takes seconds (password hashing) they would spill into the window, so there the
  // round is the warm-up.
  if (roundSeconds < settings.warmupSeconds) {
    runs.push(await fire(scenario, settings.connections, { duration: settings.warmupSeconds }));
  }
  const seconds = Math.max(settings.seconds, Math.ceil(MIN_ROUNDS * roundSeconds));
  const result = await fire(scenario, settings.connections, { duration: seconds });
  runs.push(result);
  return {
    rps: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: runs.reduce((sum, run) => sum + run.non2xx + run.errors, 0),
    errorDetail: describeErrors(runs),
    completed: result["2xx"],
    seconds,
    answered: runs.reduce((sum, run) => sum + run.requests.total, 0),
  };
}

function fire(
  scenario: Scenario,
  connections: number,
  length: { duration: number } | { amount: number },
): Promise<autocannon.Result> {
  return autocannon({
    url: scenario.baseUrl,
    connections,
    timeout: TIMEOUT_SECONDS,
    requests: [scenario.request],
    ...length,
  });
}

function describeErrors(runs: autocannon.Result[]): string {
  const counts = new Map<string, number>();
  const add = (kind: string, count: number) => {
    if (count > 0) counts.set(kind, (counts.get(kind) ?? 0) + count);
  };
  for (const run of runs) {
    for (const [status, stats] of Object.entries(run.statusCodeStats ?? {})) {
      if (!status.startsWith("2")) add(`HTTP ${status}`, stats.count ?? 0);
    }
    add("timeouts", run.timeouts);
    add("socket errors", run.errors - run.timeouts);
  }
  return [...counts].map(([kind, count]) => `${kind}×${count}`).join(", ");
}
