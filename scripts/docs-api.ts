/**
 * `npm run docs:api`: writes the API reference from the route contracts — docs/openapi.json
 * (the document the Worker serves at /openapi.json) and docs/api.md (the same, as Markdown).
 * test-node/openapi.test.ts fails while either file differs from what this would write.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createApp } from "../src/app";
import { buildOpenApiDocument } from "../src/http/openapi";
import { renderApiMarkdown } from "./api-markdown";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The files to write: path relative to the repository → content. */
export async function renderApiReference(): Promise<Record<string, string>> {
  const document = await buildOpenApiDocument(createApp());
  return {
    "docs/openapi.json": `${JSON.stringify(document, null, 2)}\n`,
    "docs/api.md": renderApiMarkdown(document),
  };
}

async function main(): Promise<void> {
  for (const [file, content] of Object.entries(await renderApiReference())) {
    await writeFile(path.join(ROOT, file), content);
    console.log(`wrote ${file}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
