/**
 * The counting run of `npm run bench` (not part of `npm test`): bench/counting in the workers
 * pool, against the database and with the variables the bench runner hands over.
 */
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { pgWorkerdAliases } from "../test/support/pg-aliases";

const databaseUrl = process.env.BENCH_DATABASE_URL;
const workerVars = process.env.BENCH_WORKER_VARS;
if (!databaseUrl || !workerVars) throw new Error("Run this through `npm run bench`");

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        hyperdrives: { HYPERDRIVE: databaseUrl },
        // The same variables as the wrangler dev worker of the load run.
        bindings: JSON.parse(workerVars) as Record<string, string>,
      },
    }),
  ],
  resolve: { alias: pgWorkerdAliases },
  test: {
    // The counting run (`*.count.ts`), or the scale bench's plan run (`*.scale.ts`).
    include: [`bench/counting/*.${process.env.BENCH_SUITE ?? "count"}.ts`],
    testTimeout: 60_000,
  },
});
