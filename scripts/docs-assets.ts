/**
 * Assembles dist/assets, the Workers Static Assets of the /docs page: our own files from
 * assets/ and Swagger UI's script, stylesheet and icon from the swagger-ui-dist package (no
 * CDN at run time). `npm start`, `npm run deploy`, the bench and the tests that run wrangler
 * call it first (`npm run docs:assets` by hand); paths come from this file, not the working
 * folder. Files that are already current are left alone, so a rerun changes nothing.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const ASSETS_DIR = path.join(ROOT, "dist", "assets");
const SWAGGER_FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"];

export async function buildDocsAssets(): Promise<void> {
  const swaggerDir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const ours = (await readdir(path.join(ROOT, "assets"), { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(path.join(ROOT, "assets"), path.join(entry.parentPath, entry.name)));
  const files: [string, string][] = [
    ...ours.map((file): [string, string] => [path.join(ROOT, "assets", file), file]),
    ...SWAGGER_FILES.map((file): [string, string] => [path.join(swaggerDir, file), path.join("docs", file)]),
  ];
  for (const [source, target] of files) await copyIfChanged(source, path.join(ASSETS_DIR, target));
}

async function copyIfChanged(source: string, target: string): Promise<void> {
  const content = await readFile(source);
  if (existsSync(target) && (await readFile(target)).equals(content)) return;
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, content);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  buildDocsAssets().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
