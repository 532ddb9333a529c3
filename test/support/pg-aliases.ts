/**
 * Inside the workers test pool, pg's CommonJS require() would pick pg-protocol's ESM build and
 * pg-cloudflare's empty stub; these aliases point both at the builds workerd can run. Shared
 * by every Vitest config that runs worker code (the tests and the bench's counting run);
 * `wrangler dev` and deploy do not need them.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const pgWorkerdAliases = [
  { find: /^pg-protocol$/, replacement: require.resolve("pg-protocol") },
  {
    find: /^pg-cloudflare$/,
    replacement: require.resolve("pg-cloudflare").replace(/empty\.js$/, "index.js"),
  },
];
