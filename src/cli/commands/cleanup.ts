/** `gravy db cleanup`: the cron's cleanup, run now (Node has no KV, so nothing is re-published). */
import { runCleanup } from "../../cron/cleanup";
import type { Command } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { formatTable, writeJson, writeLines } from "../output";

export const cleanupCommand: Command = {
  name: "db cleanup",
  summary: "Delete expired revoked JTIs, expired or long-revoked refresh tokens and spent email tokens.",
  details: "Deletes in bounded batches, like the scheduled job, and records the run for `gravy db health`.",
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    const result = await withDatabase(target, (handle) => runCleanup(handle.db));
    if (ctx.json) return writeJson(ctx.io, result);
    const { counts } = result;
    const rows = [
      { table: "revoked_jti", deleted: counts.revokedJti },
      { table: "refresh_tokens", deleted: counts.refreshTokens },
      { table: "email_tokens", deleted: counts.emailTokens },
    ];
    writeLines(
      ctx.io,
      formatTable(rows, [
        { key: "table", title: "Table" },
        { key: "deleted", title: "Deleted", align: "right" },
      ]),
      "",
      `Cleanup completed on ${target.description.label} in ${result.durationMs} ms.`,
    );
    if (result.incomplete) {
      ctx.io.stderr("Some tables still have expired rows (batch budget reached); run it again.\n");
    }
  },
};
