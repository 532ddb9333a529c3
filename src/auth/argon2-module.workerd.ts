/**
 * The Argon2 WebAssembly module in the Worker: imported statically, so wrangler bundles the
 * .wasm file and the runtime hands over a compiled `WebAssembly.Module`. (Workers refuse to
 * compile WebAssembly from bytes at run time; instantiating a module is allowed.)
 */
import argon2Wasm from "@phi-ag/argon2/argon2.wasm";

export async function loadArgon2Module(): Promise<WebAssembly.Module> {
  return argon2Wasm;
}
