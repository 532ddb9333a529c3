/**
 * One cleanup over the backlog, as the cron would run it tick after tick until it has caught
 * up, while refreshes keep arriving: how fast rows go, and how long a refresh waited. Waiting
 * is read two ways: the refreshes' own latency against the same load without the cleanup,
 * and Postgres's view — backends of the database waiting on a lock, sampled every 10 ms.
 */
import pg from "pg";
import { type CleanupCounts, runCleanup } from "../../src/cron/cleanup";
import { openNodeDatabase } from "../../src/db";
import { insertSessions, jsonHeaders, REFRESH_SESSIONS } from "./fixtures";
import { delay } from "./processes";
import { RETENTION } from "./scale-plans";

export interface LatencyFigures {
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface CleanupFigures {
  rows: number;
  counts: Partial<CleanupCounts>;
  runs: number;
  seconds: number;
  rowsPerSecond: number;
  /** Refreshes sent meanwhile, and the same load alone just before. */
  refreshDuring: LatencyFigures;
  refreshAlone: LatencyFigures;
  /** The longest a backend of the database was seen waiting on a lock. */
  longestLockWaitMs: number;
  lockSamples: number;
}

const REFRESH_CONNECTIONS = 4;
const ALONE_SECONDS = 3;

export async function measureCleanup(
  baseUrl: string,
  email: string,
  databaseUrl: string,
): Promise<CleanupFigures> {
  const sessions = await insertSessions(databaseUrl, email, REFRESH_SESSIONS);
  const refreshAlone = await refreshWhile(baseUrl, sessions, delay(ALONE_SECONDS * 1000));
  const sampler = sampleLockWaits(databaseUrl);
  const cleanup = cleanUpBacklog(databaseUrl);
  const refreshDuring = await refreshWhile(baseUrl, sessions, cleanup);
  const lockWaits = await sampler.stop();
  const done = await cleanup;
  return { ...done, refreshAlone, refreshDuring, ...lockWaits };
}

async function cleanUpBacklog(url: string) {
  const handle = openNodeDatabase(url, { min: 1, max: 1 });
  const counts: Partial<CleanupCounts> = {};
  const started = performance.now();
  let runs = 0;
  try {
    for (let incomplete = true; incomplete; runs++) {
      const result = await runCleanup(handle.db, RETENTION);
      for (const [key, count] of Object.entries(result.counts) as [keyof CleanupCounts, number][]) {
        counts[key] = (counts[key] ?? 0) + count;
      }
      incomplete = result.incomplete;
    }
  } finally {
    await handle.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const rows = Object.values(counts).reduce((sum, count) => sum + count, 0);
  return { rows, counts, runs, seconds, rowsPerSecond: rows / seconds };
}

/** Closed-loop refreshes, one chain per connection, until `until` settles. */
async function refreshWhile(
  baseUrl: string,
  tokens: string[],
  until: Promise<unknown>,
): Promise<LatencyFigures> {
  let running = true;
  void until.finally(() => {
    running = false;
  });
  const latencies: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: REFRESH_CONNECTIONS }, async () => {
      while (running) {
        const token = tokens.shift();
        if (!token) throw new Error("the refresh pool ran dry");
        const started = performance.now();
        const response = await fetch(`${baseUrl}/v1/auth/refresh`, {
          method: "POST",
          headers: jsonHeaders(),
          body: JSON.stringify({ refreshToken: token }),
          signal: AbortSignal.timeout(30_000),
        }).catch(() => undefined);
        latencies.push(performance.now() - started);
        if (response?.status !== 200) {
          errors++;
          await response?.text();
          continue; // the token is dropped: its chain is over
        }
        tokens.push(((await response.json()) as { refreshToken: string }).refreshToken);
      }
    }),
  );
  return summarise(latencies, errors);
}

function summarise(latencies: number[], errors: number): LatencyFigures {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { requests: sorted.length, errors, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

function sampleLockWaits(url: string) {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  let running = true;
  let longest = 0;
  let samples = 0;
  const sampling = (async () => {
    await client.connect();
    while (running) {
      const { rows } = await client.query<{ ms: number | null }>(
        `select max(extract(epoch from clock_timestamp() - state_change)) * 1000 as ms
           from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
      );
      longest = Math.max(longest, Number(rows[0]?.ms ?? 0));
      samples++;
      await delay(10);
    }
    await client.end();
  })();
  return {
    stop: async () => {
      running = false;
      await sampling;
      return { longestLockWaitMs: longest, lockSamples: samples };
    },
  };
}
