/**
 * The plan run of `npm run bench -- --scale`, inside workerd against the large database: the
 * session hot paths are served once through the real app, every statement they send is
 * captured with its parameters and planned with EXPLAIN there (sequential scans allowed).
 * Plans leave through task meta, which the JSON reporter writes out for bench/lib/scale.ts.
 */
import pg from "pg";
import { beforeAll, describe, it } from "vitest";
import { createApp } from "../../src/app";
import { createTestApp } from "../../test/support/fixtures";
import { serveSessionHotPaths } from "../../test/support/hot-paths";
import { bindings } from "../../test/support/worker";
import type { PlannedStatement } from "../lib/types";

declare module "vitest" {
  interface TaskMeta {
    plans?: PlannedStatement[];
  }
}

interface Captured {
  sql: string;
  params: unknown[];
}

const captured: Captured[] = [];
const app = createApp({ onQuery: (sql, params) => captured.push({ sql, params }) });
let appId: string;

beforeAll(async () => {
  appId = await createTestApp("plans");
});

describe("hot statements on the large database", () => {
  it("are planned", async ({ task }) => {
    await serveSessionHotPaths(app, appId);
    const connection = new pg.Client({
      connectionString: (bindings.HYPERDRIVE as Hyperdrive).connectionString,
    });
    connection.on("error", () => {});
    await connection.connect();
    try {
      const plans: PlannedStatement[] = [];
      for (const { sql, params } of captured) {
        if (/^(begin|commit|rollback)\b/i.test(sql.trim())) continue;
        const json = await connection.query(`explain (format json) ${sql}`, params);
        const text = await connection.query(`explain ${sql}`, params);
        plans.push({
          sql,
          plan: (json.rows[0] as { "QUERY PLAN": unknown })["QUERY PLAN"],
          text: text.rows.map((row: { "QUERY PLAN": string }) => row["QUERY PLAN"]).join("\n"),
        });
      }
      task.meta.plans = plans;
    } finally {
      await connection.end();
    }
  });
});
