/** `gravy audit verify <appId>` and `gravy audit seal`: the audit's hash chain. */
import { chainKey } from "../../audit/chain";
import { sealAudit } from "../../audit/seal";
import { type ChainReport, verifyChain } from "../../audit/verify";
import type { Command } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { CliError } from "../errors";
import { writeJson, writeLines } from "../output";

const verify: Command = {
  name: "audit verify",
  summary: "Walk an app's audit chain and report the first altered, inserted or deleted row.",
  arguments: "[appId]",
  positionals: { min: 0, max: 1 },
  details:
    "Without an app id, the chain of rows that belong to no app (the cleanup's records). Rows written since the last cron tick are not sealed yet and not covered. Exits with 1 when the chain was tampered with.",
  async run(ctx) {
    const chain = chainKey(ctx.positionals[0] ?? null);
    const report = await withDatabase(databaseTarget(ctx.io.env), (handle) => verifyChain(handle.db, chain));
    if (report.head.seq === 0 && report.unsealed === 0) throw new CliError(`No audit rows for "${chain}"`);
    if (ctx.json) writeJson(ctx.io, report);
    else writeLines(ctx.io, ...describe(report));
    if (report.problem) {
      const { kind, seq, id } = report.problem;
      throw new CliError(
        `The audit chain was tampered with: row ${kind} at position ${seq}${id ? ` (id ${id})` : ""}`,
      );
    }
  },
};

function describe(report: ChainReport): string[] {
  const name = report.chain === "" ? "rows of no app" : `app "${report.chain}"`;
  const lines = [
    `Audit chain of ${name}: positions ${report.anchor.seq + 1}–${report.head.seq}, head ${report.head.hash}.`,
  ];
  if (report.anchor.seq > 0)
    lines.push(`Anchor (retention deleted up to ${report.anchor.seq}): ${report.anchor.hash}`);
  if (report.problem) lines.push(`Tampered: ${report.problem.detail}.`);
  else lines.push(`Intact: ${report.sealed} sealed rows verified, ${report.redacted} of them redacted.`);
  if (report.unsealed > 0)
    lines.push(`${report.unsealed} rows written since the last tick are not sealed yet.`);
  return lines;
}

const seal: Command = {
  name: "audit seal",
  summary: "Seal the audit rows written since the last cron tick into their chains now.",
  async run(ctx) {
    const result = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      sealAudit(handle.db, Number.POSITIVE_INFINITY),
    );
    if (ctx.json) return writeJson(ctx.io, result);
    writeLines(ctx.io, `Sealed ${result.sealed} audit rows.`);
  },
};

export const auditCommands: Command[] = [verify, seal];
