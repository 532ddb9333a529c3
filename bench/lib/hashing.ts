/**
 * Password hashing cost inside workerd: the bench/hashing worker under the same wrangler dev
 * as the load run, started alone on an otherwise idle set-up and stopped before the load.
 */
import { DEFAULT_PARAMS } from "../../src/auth/passwords";
import { startWrangler } from "./environment";
import { waitUntilServing } from "./processes";
import { buildWorker } from "./sizes";
import { median } from "./stats";

export interface HashTimes {
  params: string;
  samples: number;
  /** Median milliseconds per derivation. */
  native: number;
  noble: number;
}

export async function timeHashing(dir: string, samples: number): Promise<HashTimes> {
  const worker = await buildWorker(dir, "hashing", "bench/hashing/wrangler.toml");
  const { service, url } = await startWrangler(dir, "hashing", worker);
  try {
    await waitUntilServing(service, `${url}/native?samples=1`);
    const native = await fetchSamples(`${url}/native?samples=${samples}`);
    const noble = await fetchSamples(`${url}/noble?samples=${samples}`);
    const { ln, r, p } = DEFAULT_PARAMS;
    return { params: `N=2^${ln}, r=${r}, p=${p}`, samples, native: median(native), noble: median(noble) };
  } finally {
    await service.stop();
  }
}

async function fetchSamples(url: string): Promise<number[]> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return ((await response.json()) as { samplesMs: number[] }).samplesMs;
}
