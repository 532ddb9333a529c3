/**
 * The processes a bench run starts, and stopping them whatever happens: normal end, an
 * error, Ctrl-C or SIGTERM. Only what this run started is ever signalled.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";

type Stop = () => Promise<void>;

const stops: Stop[] = [];
const groups = new Set<number>();
let signalled = false;

/** Registers something to undo at the end; undone in reverse order of registration. */
export function onCleanup(stop: Stop): void {
  stops.push(stop);
}

/** Runs every registered stop once, last registered first, never throwing. */
export async function cleanUp(): Promise<void> {
  while (stops.length > 0) {
    const stop = stops.pop();
    await stop?.().catch((error: unknown) => console.error(`cleanup: ${String(error)}`));
  }
}

/**
 * Ctrl-C and SIGTERM clean up, then exit. The embedded database package has its own exit hook
 * that may end the process early, so the child groups are signalled synchronously first.
 */
export function cleanUpOnSignals(): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    console.error(`\n${signal}: stopping what the bench started …`);
    for (const pid of groups) signalGroup(pid, "SIGTERM");
    void cleanUp().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", () => {
    for (const pid of groups) signalGroup(pid, "SIGKILL");
  });
}

export interface Service {
  name: string;
  /** The process group: npx and everything it started (wrangler, workerd). */
  groupId: number;
  logFile: string;
  /** Settles when the process ends: the exit code, or null when a signal ended it. */
  ended: Promise<number | null>;
  /** Rejects if the process ends before it is stopped; never resolves. */
  exitedEarly: Promise<never>;
  /** Stops the process group now rather than at cleanup; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts a command in its own process group (npx → node → workerd), output to a log file,
 * and registers its stop.
 */
export function startService(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; logFile: string },
): Service {
  const log = openSync(options.logFile, "a");
  const child = spawn(command, args, { detached: true, env: options.env, stdio: ["ignore", log, log] });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name} did not start`);
  groups.add(pid);
  let stopping: Promise<void> | undefined;
  const ended = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      groups.delete(pid);
      resolve(code);
    });
  });
  const exitedEarly = ended.then((code) => {
    if (stopping) return new Promise<never>(() => {});
    throw new Error(`${name} exited early (code ${code}):\n${logTail(options.logFile)}`);
  });
  exitedEarly.catch(() => {});
  const stop = () => {
    stopping ??= stopGroup(child, pid);
    return stopping;
  };
  onCleanup(stop);
  return { name, groupId: pid, logFile: options.logFile, ended, exitedEarly, stop };
}

/** Runs a command to its end, output to a log file; rejects unless it exits with 0. */
export async function runCommand(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; logFile: string },
): Promise<void> {
  const code = await startService(name, command, args, options).ended;
  if (code !== 0) throw new Error(`${name} failed (code ${code}):\n${logTail(options.logFile, 40)}`);
}

/** SIGTERM to the whole group, then SIGKILL for whatever of it is left after a grace period. */
async function stopGroup(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    signalGroup(pid, "SIGTERM");
    await Promise.race([gone, delay(8000)]);
  }
  // wrangler can exit before its workerd child; nothing of the group may outlive the run.
  signalGroup(pid, "SIGKILL");
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Polls a URL until it answers 2xx; fails fast if the service dies first. */
export async function waitUntilServing(service: Service, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const poll = async () => {
    while (Date.now() < deadline) {
      const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) return;
      await delay(250);
    }
    throw new Error(
      `${service.name} did not answer ${url} within ${timeoutMs / 1000} s:\n${logTail(service.logFile)}`,
    );
  };
  await Promise.race([poll(), service.exitedEarly]);
}

/** The last lines a service logged, for error reports. */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
