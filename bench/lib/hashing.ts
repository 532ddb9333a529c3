/**
 * Password hashing cost inside workerd: the bench/hashing worker under the same wrangler dev
 * as the load run, started alone on an otherwise idle set-up and stopped before the load.
 */
import { ARGON2_DEFAULTS } from "../../src/auth/passwords";
import { SCRYPT_DEFAULTS } from "../../src/auth/scrypt";
import { startWrangler } from "./environment";
import { waitUntilServing } from "./processes";
import { cpuMs, workerProcess } from "./runtime";
import { buildWorker } from "./sizes";
import { median } from "./stats";

export interface HashTimes {
  argon2Params: string;
  scryptParams: string;
  samples: number;
  /** Median milliseconds per derivation, timed in the isolate (wall time: CPU time only on an idle machine). */
  argon2id: number;
  scryptNative: number;
  scryptNoble: number;
  /** CPU milliseconds per derivation of the hashing worker's process (from /proc), as the login CPU is read. */
  argon2idCpu: number;
  scryptNativeCpu: number;
}

export async function timeHashing(dir: string, samples: number): Promise<HashTimes> {
  const worker = await buildWorker(dir, "hashing", "bench/hashing/wrangler.toml");
  const server = await startWrangler(dir, "hashing", worker);
  const { service, url } = server;
  try {
    await waitUntilServing(service, `${url}/argon2id?samples=1`);
    const time = async (name: string) => median(await fetchSamples(`${url}/${name}?samples=${samples}`));
    const pid = workerProcess(server);
    // One request runs samples + 1 derivations (a warm-up first); its own cost is noise beside them.
    const cpu = async (name: string) => {
      const before = cpuMs(pid);
      await fetchSamples(`${url}/${name}?samples=${samples}`);
      return (cpuMs(pid) - before) / (samples + 1);
    };
    const { m, t, p } = ARGON2_DEFAULTS;
    const { ln, r, p: lanes } = SCRYPT_DEFAULTS;
    return {
      argon2Params: `m=${m}, t=${t}, p=${p}`,
      scryptParams: `N=2^${ln}, r=${r}, p=${lanes}`,
      samples,
      argon2id: await time("argon2id"),
      scryptNative: await time("scrypt-native"),
      scryptNoble: await time("scrypt-noble"),
      argon2idCpu: await cpu("argon2id"),
      scryptNativeCpu: await cpu("scrypt-native"),
    };
  } finally {
    await service.stop();
  }
}

async function fetchSamples(url: string): Promise<number[]> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return ((await response.json()) as { samplesMs: number[] }).samplesMs;
}
