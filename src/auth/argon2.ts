/**
 * Argon2 from the reference implementation (phc-winner-argon2), compiled to WebAssembly with
 * SIMD by @phi-ag/argon2. Workers refuse to compile WebAssembly at run time, so the module
 * arrives precompiled: imported statically in the Worker (wrangler bundles the .wasm), read
 * from the package in Node (`#argon2-module` picks the right loader).
 *
 * One instance per isolate, created on first use; its linear memory holds one hash's blocks and
 * is reused by the next hash. `argon2_hash` runs synchronously, so concurrent requests in an
 * isolate take turns by construction: there is never more than one hash's memory live.
 *
 * The package's own class is bypassed: it passes a string's UTF-16 length as the password's
 * byte length, which truncates non-ASCII passwords. Here the C API gets bytes and their length.
 */
import { loadArgon2Module } from "#argon2-module";

export type Argon2Variant = "argon2d" | "argon2i" | "argon2id";

export interface Argon2Params {
  /** Memory in KiB. */
  m: number;
  /** Passes over memory. */
  t: number;
  /** Lanes. */
  p: number;
}

/** Argon2 version 1.3 (0x13 = 19), the current one; 1.0 (0x10) is only verified. */
export const ARGON2_VERSION = 0x13;
const VARIANT_CODES: Record<Argon2Variant, number> = { argon2d: 0, argon2i: 1, argon2id: 2 };

interface Argon2Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  malloc(size: number): number;
  free(pointer: number): void;
  /** The reference C API; returns 0 or a negative ARGON2_* error code. */
  argon2_hash(
    t: number,
    m: number,
    p: number,
    pwd: number,
    pwdLength: number,
    salt: number,
    saltLength: number,
    hash: number,
    hashLength: number,
    encoded: number,
    encodedLength: number,
    variant: number,
    version: number,
  ): number;
}

interface Loaded {
  wasm: Argon2Exports;
  /** The memory (KiB) reserved for one hash: any hash up to this size runs without growth. */
  reservedKiB: number;
}

// Room beside one hash's blocks for the call's own small allocations (password, salt, output).
const HEADROOM_BYTES = 64 * 1024;

// Settles with the isolate's instance; each call chains onto it, so instances are created one
// at a time.
let current: Promise<Loaded | undefined> = Promise.resolve(undefined);

async function instantiate(reservedKiB: number): Promise<Loaded> {
  const created = await WebAssembly.instantiate(await loadArgon2Module(), {});
  const wasm = created.exports as unknown as Argon2Exports;
  // A WASI reactor: its C runtime is set up once, before the first call.
  wasm._initialize();
  // Grown once to one hash's size plus headroom, then freed: every later hash of that size,
  // whatever its inputs' lengths, is carved from this one free region.
  const region = wasm.malloc(reservedKiB * 1024 + HEADROOM_BYTES);
  if (region === 0) throw new Error("argon2: out of memory");
  wasm.free(region);
  return { wasm, reservedKiB };
}

/**
 * The instance for a hash of this many KiB. Its allocator never joins freed memory to new
 * growth, so a hash larger than the reservation would add its whole size to the instance's
 * memory (19 MiB, then 32 more …); such a hash gets a fresh instance instead, and the old one
 * is left to the garbage collector.
 */
function reserve(memoryKiB: number): Promise<Loaded> {
  const next = current.then((loaded) =>
    loaded && memoryKiB <= loaded.reservedKiB ? loaded : instantiate(memoryKiB),
  );
  current = next.catch(() => undefined); // a failed instantiation is retried by the next call
  return next;
}

export interface Argon2Input {
  password: Uint8Array;
  salt: Uint8Array;
  params: Argon2Params;
  keyBytes: number;
  variant?: Argon2Variant;
  version?: number;
}

/** The raw Argon2 tag of a password, as RFC 9106 defines it (no secret, no associated data). */
export async function deriveArgon2(input: Argon2Input): Promise<Uint8Array> {
  const { wasm } = await reserve(input.params.m);
  return hashWith(wasm, input);
}

function hashWith(wasm: Argon2Exports, input: Argon2Input): Uint8Array {
  const { password, salt, params, keyBytes } = input;
  // Freed in reverse order, so the heap is whole again after every call and the next hash
  // reuses the same block of memory instead of growing it.
  const pwd = copyIn(wasm, password);
  const saltAt = copyIn(wasm, salt);
  const out = copyIn(wasm, new Uint8Array(keyBytes));
  try {
    const code = wasm.argon2_hash(
      params.t,
      params.m,
      params.p,
      pwd,
      password.length,
      saltAt,
      salt.length,
      out,
      keyBytes,
      0, // no encoded string: Turkey writes the PHC string itself
      0,
      VARIANT_CODES[input.variant ?? "argon2id"],
      input.version ?? ARGON2_VERSION,
    );
    if (code !== 0) throw new Error(`argon2_hash failed with code ${code}`);
    return new Uint8Array(wasm.memory.buffer, out, keyBytes).slice();
  } finally {
    wipe(wasm, out, keyBytes);
    wipe(wasm, saltAt, salt.length);
    wipe(wasm, pwd, password.length);
  }
}

function copyIn(wasm: Argon2Exports, bytes: Uint8Array): number {
  // malloc(0) may answer 0; one spare byte keeps every pointer real.
  const pointer = wasm.malloc(bytes.length + 1);
  if (pointer === 0) throw new Error("argon2: out of memory");
  new Uint8Array(wasm.memory.buffer, pointer, bytes.length).set(bytes);
  return pointer;
}

/** Zeroes and frees: the password must not linger in the instance's memory. */
function wipe(wasm: Argon2Exports, pointer: number, length: number): void {
  new Uint8Array(wasm.memory.buffer, pointer, length).fill(0);
  wasm.free(pointer);
}

/** Bytes of the instance's linear memory in this isolate (0 before the first hash). */
export async function argon2MemoryBytes(): Promise<number> {
  return (await current)?.wasm.memory.buffer.byteLength ?? 0;
}
