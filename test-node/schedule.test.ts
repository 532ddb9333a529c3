/** The Cron Trigger's schedule, read from the deployed configuration itself. */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";

describe("wrangler.toml", () => {
  it("fires the cron every minute, so a revocation whose KV write failed is healed within ~2 minutes", async () => {
    const toml = await readFile(new URL("../wrangler.toml", import.meta.url), "utf8");
    const crons = /\[triggers\][^[]*crons\s*=\s*\[([^\]]*)\]/.exec(toml)?.[1];
    expect(crons?.split(",").map((cron) => cron.trim())).toEqual(['"* * * * *"']);
  });
});
