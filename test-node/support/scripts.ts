/**
 * The project's scripts as real processes, from any working folder, and the processes they
 * leave behind.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// As package.json runs them: `node --import tsx`, one process (no tsx parent relaying signals).
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  output(): string;
  /** Settles when the process ends. */
  finished: Promise<Finished>;
}

/** Only what is given (plus PATH and HOME): the tests' own variables never leak in. */
export function scriptEnv(env: Record<string, string>): Record<string, string> {
  const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", WRANGLER_SEND_METRICS: "false" };
  return { ...base, ...env };
}

/** Starts `scripts/<name>.ts` in its own process group, so a failed test can stop all of it. */
export function startScript(name: string, args: string[], cwd: string, env: Record<string, string>): Running {
  const child = spawn(process.execPath, ["--import", TSX_LOADER, `${ROOT}/scripts/${name}.ts`, ...args], {
    cwd,
    // No NODE_ENV unless given: the script's own default applies.
    env: scriptEnv(env) as NodeJS.ProcessEnv,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const finished = new Promise<Finished>((resolve) => {
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, output: () => `${stdout}${stderr}`, finished };
}

/** Runs a script to its end. */
export function runScript(name: string, args: string[], cwd: string, env: Record<string, string>) {
  return startScript(name, args, cwd, env).finished;
}

/** Every process below `pid`, by parent links. */
export async function descendants(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const { pid: child, ppid } of await processTable()) {
    children.set(ppid, [...(children.get(ppid) ?? []), child]);
  }
  const found: number[] = [];
  const visit = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

/**
 * The processes of the list that are still running. A zombie has ended: it only waits for
 * its new parent (init, which in some containers never collects it) to read its exit status.
 */
export async function alive(pids: number[]): Promise<number[]> {
  const running = new Set(
    (await processTable()).filter((entry) => !entry.state.startsWith("Z")).map((entry) => entry.pid),
  );
  return pids.filter((pid) => running.has(pid));
}

async function processTable(): Promise<{ pid: number; ppid: number; state: string }[]> {
  const { stdout } = await promisify(execFile)("ps", ["-A", "-o", "pid=,ppid=,stat="]);
  return stdout
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .map(([pid, ppid, state]) => ({ pid: Number(pid), ppid: Number(ppid), state: state ?? "" }));
}
