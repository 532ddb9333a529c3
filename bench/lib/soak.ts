/**
 * `npm run bench -- --soak [--seconds N]`: mixed traffic for a few minutes (three unless
 * said) while Postgres is restarted once and, later, made unreachable for 10 s. The bench
 * owns both: its embedded Postgres (persistent on disk, so it can be stopped and started)
 * and a TCP relay between the Worker and Postgres that it can cut. Afterwards the answers
 * are checked (./soak-checks) and reported per second around each fault.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { buildDocsAssets } from "../../scripts/docs-assets";
import { startEmbeddedPostgres } from "../../src/cli/embedded-postgres";
import { createWorkDir, freePort, prepareDatabase, startTurkeyWorker, workerVariables } from "./environment";
import { delay, logTail, onCleanup, waitUntilServing } from "./processes";
import { describeMachine } from "./report";
import { buildWorker } from "./sizes";
import { checkSoak, type Fault, formatSoakReport, type SoakResults } from "./soak-checks";
import { runTraffic } from "./soak-traffic";
import { startTcpProxy } from "./tcp-proxy";

export const DEFAULT_SOAK_SECONDS = 180;
/** Closed loops: requests in flight at any time. */
const CLIENTS = 8;
const CUT_SECONDS = 10;
const SOAK_RESULTS_FILE = "bench/results/soak.json";

export async function runSoak(seconds: number, step: (text: string) => void): Promise<number> {
  const dir = await createWorkDir();
  const vars = workerVariables();
  step("embedded PostgreSQL (restartable) and a TCP relay to it that can be cut");
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dir, "postgres"),
    port: await freePort(),
    database: "turkey_soak",
  });
  onCleanup(() => server.stop());
  const database = await prepareDatabase(server.url);
  const proxy = await startTcpProxy(await freePort(), Number(new URL(server.url).port));
  const relayed = new URL(database.hyperdriveUrl);
  relayed.port = String(proxy.port);
  step("build Turkey (wrangler deploy --dry-run) and serve it through the relay");
  await buildDocsAssets();
  const build = await buildWorker(dir, "turkey", "wrangler.toml");
  const turkey = await startTurkeyWorker(
    dir,
    "turkey",
    build,
    { ...database, hyperdriveUrl: relayed.href },
    vars,
  );
  await waitUntilServing(turkey.service, `${turkey.url}/health`);

  const origin = performance.now();
  const now = () => performance.now() - origin;
  const faults: Fault[] = [];
  const schedule = async () => {
    await delay(seconds * 300);
    step(`${(now() / 1000).toFixed(0)} s: restarting Postgres`);
    const restart: Fault = { kind: "restart", startMs: now(), endMs: 0 };
    await server.restart();
    restart.endMs = now();
    faults.push(restart);
    await delay(seconds * 1000 * 0.6 - now());
    step(`${(now() / 1000).toFixed(0)} s: Postgres unreachable for ${CUT_SECONDS} s`);
    const cut: Fault = { kind: "unreachable", startMs: now(), endMs: 0 };
    proxy.cut();
    await delay(CUT_SECONDS * 1000);
    proxy.restore();
    cut.endMs = now();
    faults.push(cut);
    await delay(seconds * 1000 - now());
  };
  step(`traffic: ${CLIENTS} clients for ${seconds} s (login, refresh, me, introspect, logout)`);
  const traffic = await runTraffic(turkey.url, server.url, CLIENTS, origin, schedule());
  step("checks: answers during the faults, sessions and audit rows in SQL, recovery");
  const results: SoakResults = {
    date: new Date().toISOString(),
    machine: await describeMachine(),
    seconds,
    clients: CLIENTS,
    faults,
    ...(await checkSoak(database.url, traffic, faults)),
  };
  await mkdir(path.dirname(SOAK_RESULTS_FILE), { recursive: true });
  await writeFile(
    SOAK_RESULTS_FILE,
    `${JSON.stringify({ ...results, answers: traffic.answers }, null, 2)}\n`,
  );
  console.log(`\n${formatSoakReport(results)}\n\nwritten to ${SOAK_RESULTS_FILE}`);
  if (results.failures.length > 0)
    console.error(`Turkey's last log lines:\n${logTail(turkey.service.logFile)}`);
  for (const failure of results.failures) console.error(failure);
  return results.failures.length > 0 ? 1 : 0;
}
