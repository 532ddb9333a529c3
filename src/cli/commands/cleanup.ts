/** `gravy db cleanup`: the cron's cleanup, run now and to the end (Node has no Worker limits). */
import { parseDatabaseConfig } from "../../config";
import { runCleanup } from "../../cron/cleanup";
import type { RetentionKey } from "../../cron/retention";
import type { Command } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { formatTable, writeJson, writeLines } from "../output";

const WHAT: Record<RetentionKey, [table: string, rows: string]> = {
  revokedJti: ["revoked_jti", "revocations of expired tokens"],
  refreshTokensExpired: ["refresh_tokens", "rows of expired sessions"],
  refreshTokensRevoked: ["refresh_tokens", "rows revoked over a day ago"],
  emailTokensUsed: ["email_tokens", "used links"],
  emailTokensExpired: ["email_tokens", "expired links"],
  mfaChallengesExpired: ["mfa_challenges", "expired second-factor sign-ins"],
  passkeyChallengesExpired: ["passkey_challenges", "expired passkey challenges"],
  emailLogins: ["email_logins", "spent or expired sign-in codes"],
  handoffCodes: ["handoff_codes", "expired hand-off codes"],
  oauthStates: ["oauth_states", "expired social sign-ins in progress"],
  auditExpired: ["audit", "rows older than AUDIT_RETENTION_DAYS"],
  auditPii: ["audit", "emails blanked after AUDIT_PII_DAYS"],
};

export const cleanupCommand: Command = {
  name: "db cleanup",
  summary: "Delete rows past retention: expired revocations, sessions and links, old audit rows.",
  details:
    "Works in bounded batches like the scheduled job, but until nothing is left, and records the run for `gravy db health`.",
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    const { auditRetentionDays, auditPiiDays } = parseDatabaseConfig(ctx.io.env);
    const options = { auditRetentionDays, auditPiiDays, maxBatches: Number.POSITIVE_INFINITY };
    const result = await withDatabase(target, (handle) =>
      runCleanup(handle.db, { ...options, timeBudgetMs: Number.POSITIVE_INFINITY }),
    );
    if (ctx.json) return writeJson(ctx.io, result);
    const rows = Object.entries(result.counts).map(([key, count]) => {
      const [table, what] = WHAT[key as RetentionKey];
      return { table, what, count };
    });
    writeLines(
      ctx.io,
      formatTable(rows, [
        { key: "table", title: "Table" },
        { key: "what", title: "Rows" },
        { key: "count", title: "Removed", align: "right" },
      ]),
      "",
      `Cleanup completed on ${target.description.label} in ${result.durationMs} ms.`,
    );
  },
};
