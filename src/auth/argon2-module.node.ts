/** The Argon2 WebAssembly module in Node (the gravy CLI, Node tests): read and compiled here. */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const wasmPath = createRequire(import.meta.url).resolve("@phi-ag/argon2/argon2.wasm");

// Node may compile at run time; the Workers types leave `compile` out because Workers may not.
const { compile } = WebAssembly as unknown as {
  compile(bytes: Uint8Array): Promise<WebAssembly.Module>;
};

export async function loadArgon2Module(): Promise<WebAssembly.Module> {
  return compile(await readFile(wasmPath));
}
