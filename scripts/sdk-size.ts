/**
 * Size of the browser client as an app ships it: bundled, minified, gzipped. The server helper
 * is left out because a browser bundle tree-shakes it away.
 *
 *   npx tsx scripts/sdk-size.ts        prints the sizes; exits 1 above the budget
 */
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

/** The browser client's budget, gzipped. */
export const SDK_GZIP_BUDGET_BYTES = 5 * 1024;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BROWSER_EXPORTS = ["TurKeyClient", "TurKeyError", "localStorageAdapter", "memoryStorage"];

export interface SdkSize {
  minifiedBytes: number;
  gzippedBytes: number;
}

/** Bundles and minifies what a browser app imports from the SDK, then gzips it (level 9). */
export async function measureSdkSize(exportNames: readonly string[] = BROWSER_EXPORTS): Promise<SdkSize> {
  const result = await build({
    stdin: {
      contents: `export { ${exportNames.join(", ")} } from "./packages/sdk/src/index.ts";`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  return { minifiedBytes: code.byteLength, gzippedBytes: gzipSync(code, { level: 9 }).byteLength };
}

async function main(): Promise<void> {
  const size = await measureSdkSize();
  const verdict = size.gzippedBytes <= SDK_GZIP_BUDGET_BYTES ? "within" : "OVER";
  console.log(`browser client: ${size.minifiedBytes} bytes minified, ${size.gzippedBytes} bytes gzipped`);
  console.log(`budget: ${SDK_GZIP_BUDGET_BYTES} bytes gzipped (${verdict})`);
  if (verdict === "OVER") process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
