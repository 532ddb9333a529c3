/**
 * What a login costs the runtime, read from outside the Worker: the CPU time of the workerd
 * process that runs the Worker (from /proc, Linux only), and the isolate's JS heap through
 * its V8 inspector. (The inspector's heap figures leave out WebAssembly memory; the counting
 * run reads that from inside the isolate.)
 */
import { readdirSync, readFileSync } from "node:fs";
import WebSocket from "ws";
import type { Wrangler } from "./environment";
import { login } from "./fixtures";
import { delay } from "./processes";

// Linux counts process CPU time in clock ticks of 1/100 s (USER_HZ) on every common platform.
const MS_PER_TICK = 10;

/**
 * The workerd process running the Worker. `wrangler dev` starts two: a proxy listening on the
 * dev port (absent when deployed) and the runtime of the Worker and its Durable Objects.
 */
export function workerProcess(server: Wrangler): number {
  const port = new URL(server.url).port;
  const candidates = readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const stat = readStat(pid);
      return stat?.comm === "workerd" && stat.groupId === server.service.groupId;
    })
    .filter((pid) => !readCommandLine(pid).includes(`entry=127.0.0.1:${port}`));
  if (candidates.length !== 1 || candidates[0] === undefined) {
    throw new Error(`expected one workerd process of ${server.service.name}, found ${candidates.length}`);
  }
  return candidates[0];
}

function readCommandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

function readStat(pid: number): { comm: string; groupId: number; cpuTicks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
    // Fields after the command name: state is field 3, pgrp 5, utime 14, stime 15.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { comm, groupId: Number(fields[2]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined; // gone meanwhile
  }
}

export const cpuMs = (pid: number) => (readStat(pid)?.cpuTicks ?? 0) * MS_PER_TICK;

export interface RequestCpu {
  requests: number;
  /** CPU milliseconds of the Worker's workerd process per login, one at a time. */
  loginMs: number;
  /** The same for GET /health: a database connection and one statement, no hash. */
  healthMs: number;
}

/** Sequential requests (nothing else running), CPU of the Worker's process before and after. */
export async function measureRequestCpu(
  server: Wrangler,
  email: string,
  requests: number,
): Promise<RequestCpu> {
  const pid = workerProcess(server);
  const perRequest = async (send: () => Promise<unknown>) => {
    await send(); // warm: JIT, the Argon2 instance
    const before = cpuMs(pid);
    for (let i = 0; i < requests; i++) await send();
    return (cpuMs(pid) - before) / requests;
  };
  const loginMs = await perRequest(() => login(server.url, email));
  const healthMs = await perRequest(() => fetch(`${server.url}/health`).then((response) => response.text()));
  return { requests, loginMs, healthMs };
}

export interface MemoryReading {
  /** Peak of V8's JS heap of the Worker's isolate while sampling: used and allocated. */
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** The JS heap in use after the load and a full garbage collection. */
  heapLiveBytes: number;
  /** Peak resident memory of the Worker's workerd process (the whole runtime, every isolate). */
  processRssBytes: number;
  samples: number;
}

/** Samples the isolate's JS heap and the runtime's resident memory every 200 ms while `load` runs. */
export async function sampleMemoryDuring<T>(server: Wrangler, load: Promise<T>): Promise<[T, MemoryReading]> {
  const inspector = await Inspector.connect(server.inspectorPort);
  const pid = workerProcess(server);
  const reading: MemoryReading = {
    heapUsedBytes: 0,
    heapTotalBytes: 0,
    heapLiveBytes: 0,
    processRssBytes: 0,
    samples: 0,
  };
  let done = false;
  const sampling = (async () => {
    while (!done) {
      const heap = await inspector.call<{ usedSize: number; totalSize: number }>("Runtime.getHeapUsage");
      reading.heapUsedBytes = Math.max(reading.heapUsedBytes, heap.usedSize);
      reading.heapTotalBytes = Math.max(reading.heapTotalBytes, heap.totalSize);
      reading.processRssBytes = Math.max(reading.processRssBytes, readRss(pid));
      reading.samples++;
      await delay(200);
    }
  })();
  try {
    const result = await load;
    done = true;
    await sampling;
    // What stays once the garbage of the load is collected: the isolate's live JS heap.
    await inspector.call("HeapProfiler.collectGarbage");
    reading.heapLiveBytes = (await inspector.call<{ usedSize: number }>("Runtime.getHeapUsage")).usedSize;
    return [result, reading];
  } finally {
    done = true;
    inspector.close();
  }
}

function readRss(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A minimal Chrome DevTools Protocol client for the worker's inspector. */
class Inspector {
  private nextId = 0;
  private readonly pending = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
      if (message.id !== undefined) this.pending.get(message.id)?.(message);
    });
  }

  static async connect(port: number): Promise<Inspector> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      webSocketDebuggerUrl: string;
    }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (!url) throw new Error(`no inspector target on port ${port}`);
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    return new Inspector(socket);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (message) => {
        this.pending.delete(id);
        if (message.error) reject(new Error(`${method}: ${JSON.stringify(message.error)}`));
        else resolve(message.result as T);
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}
