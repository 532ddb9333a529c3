/**
 * `GET /argon2id?samples=7`, `/scrypt-native`, `/scrypt-noble`: milliseconds per derivation at
 * Turkey's default parameters of each, timed inside workerd after one untimed warm-up (which
 * also lets V8 finish compiling the WebAssembly). Locally `performance.now()` advances during
 * CPU work, and the isolate does nothing else meanwhile, so wall time here is the hash's CPU
 * time. (Deployed Workers freeze the clock during CPU work, which is why this runs only under
 * `wrangler dev`.)
 */
import { Hono } from "hono";
import { deriveArgon2 } from "../../src/auth/argon2";
import { ARGON2_DEFAULTS } from "../../src/auth/passwords";
import { deriveNative, deriveNoble, SCRYPT_DEFAULTS } from "../../src/auth/scrypt";

type Hash = (password: Uint8Array, salt: Uint8Array) => Promise<Uint8Array>;

const KEY_BYTES = 32;
const implementations: Record<string, Hash> = {
  argon2id: (password, salt) =>
    deriveArgon2({ password, salt, params: ARGON2_DEFAULTS, keyBytes: KEY_BYTES }),
  "scrypt-native": (password, salt) => deriveNative(password, salt, SCRYPT_DEFAULTS, KEY_BYTES),
  "scrypt-noble": (password, salt) => deriveNoble(password, salt, SCRYPT_DEFAULTS, KEY_BYTES),
};
const MAX_SAMPLES = 50;

export default new Hono().get("/:implementation", async (c) => {
  const hash = implementations[c.req.param("implementation")];
  const samples = Math.min(MAX_SAMPLES, Math.max(1, Number(c.req.query("samples") ?? 7) || 1));
  if (!hash) return c.json({ error: `one of ${Object.keys(implementations).join(", ")}` }, 404);
  return c.json({ samplesMs: await time(hash, samples) });
});

async function time(hash: Hash, samples: number): Promise<number[]> {
  const password = new TextEncoder().encode("correct horse battery staple");
  const salt = crypto.getRandomValues(new Uint8Array(16));
  await hash(password, salt);
  const timings: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await hash(password, salt);
    timings.push(performance.now() - started);
  }
  return timings;
}
