/**
 * CPU time of the bench's own Postgres server (Linux /proc): the postmaster, its live
 * backends, and the backends that already exited — which locally is most of them, since
 * `wrangler dev` opens a connection per request. Read before and after a window, it gives
 * Postgres's CPU per request.
 */
import { readdirSync, readFileSync } from "node:fs";

// Linux counts process CPU time in clock ticks of 1/100 s (USER_HZ) on every common platform.
const MS_PER_TICK = 10;

interface Stat {
  parent: number;
  ownTicks: number;
  /** CPU of children it has waited for: the postmaster reaps every exited backend. */
  reapedTicks: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the command name: ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
    const fields = text
      .slice(text.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    const at = (field: number) => fields[field - 3] ?? 0;
    return { parent: at(4), ownTicks: at(14) + at(15), reapedTicks: at(16) + at(17) };
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** The postmaster serving `dataDir`: the postgres process started with `-D dataDir`. */
export function findPostmaster(dataDir: string): number {
  const pids = readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
  const found = pids.find((pid) => commandLine(pid).includes(`-D ${dataDir}`));
  if (found === undefined) throw new Error(`no Postgres process serves ${dataDir}`);
  return found;
}

/** Milliseconds of CPU the server has used so far, exited backends included. */
export function postgresCpuMs(postmaster: number): number {
  const root = readStat(postmaster);
  if (!root) return 0;
  let ticks = root.ownTicks + root.reapedTicks;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.parent === postmaster) ticks += stat.ownTicks;
  }
  return ticks * MS_PER_TICK;
}
