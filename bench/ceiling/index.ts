/**
 * The fastest answer this runtime gives through Hono: no database, no KV, no crypto.
 * Every scenario of `npm run bench` is reported as a fraction of this worker's req/s.
 */
import { Hono } from "hono";

const BODY = { status: "ok" } as const;

export default new Hono().all("*", (c) => c.json(BODY));
