/**
 * `GET /native?samples=7` and `GET /noble?samples=7`: milliseconds per scrypt derivation at
 * Turkey's default parameters, timed inside workerd after one untimed warm-up. Locally
 * `performance.now()` advances during CPU work, and the isolate does nothing else meanwhile,
 * so wall time here is the hash's CPU time. (Deployed Workers freeze the clock during CPU
 * work, which is why this runs only under `wrangler dev`.)
 */
import { Hono } from "hono";
import { DEFAULT_PARAMS, type Derive, deriveNative, deriveNoble } from "../../src/auth/passwords";

const implementations: Record<string, Derive> = { native: deriveNative, noble: deriveNoble };
const MAX_SAMPLES = 50;

export default new Hono().get("/:implementation", async (c) => {
  const derive = implementations[c.req.param("implementation")];
  const samples = Math.min(MAX_SAMPLES, Math.max(1, Number(c.req.query("samples") ?? 7) || 1));
  if (!derive) return c.json({ error: "native or noble" }, 404);
  return c.json({ samplesMs: await time(derive, samples) });
});

async function time(derive: Derive, samples: number): Promise<number[]> {
  const password = new TextEncoder().encode("correct horse battery staple");
  const salt = crypto.getRandomValues(new Uint8Array(16));
  await derive(password, salt, DEFAULT_PARAMS);
  const timings: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await derive(password, salt, DEFAULT_PARAMS);
    timings.push(performance.now() - started);
  }
  return timings;
}
