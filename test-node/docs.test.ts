/** The documentation stays true to the code: the error-code table, and every relative link. */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ERRORS } from "../src/errors";

const ROOT = path.join(import.meta.dirname, "..");
const read = (file: string) => readFile(path.join(ROOT, file), "utf8");

describe("docs/how-it-works.md", () => {
  it("lists every error code of src/errors.ts with its status, and no other", async () => {
    const text = await read("docs/how-it-works.md");
    const table = text.slice(text.indexOf("## Error codes"));
    const rows = [...table.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map(([, code, status]) => [
      code,
      Number(status),
    ]);
    const expected = Object.entries(ERRORS).map(([code, { status }]) => [code, status]);
    expect(rows.sort()).toEqual(expected.sort());
  });
});

describe("links", () => {
  it("every relative link of the README and docs/ points at a file that exists", async () => {
    const pages = [
      "README.md",
      ...(await readdir(path.join(ROOT, "docs"))).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`),
    ];
    const broken: string[] = [];
    for (const page of pages) {
      for (const [, target] of (await read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (!target || /^(https?:|mailto:|#)/.test(target)) continue;
        const file = path.join(ROOT, path.dirname(page), target.split("#")[0] ?? "");
        if (!existsSync(file)) broken.push(`${page} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
