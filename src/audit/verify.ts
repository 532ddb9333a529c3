/**
 * Walking an app's chain (`gravy audit verify`): from its anchor, every sealed row in order of
 * position must follow the previous one, hold the content its digest says, and link to the
 * previous chain hash; the last one must be the recorded head. Reports the first row that was
 * altered, inserted or deleted. A blanked personal field whose digest remains is a redaction,
 * not tampering: it is counted, and the row verifies.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db";
import {
  CHAIN_COLUMNS,
  type ChainRow,
  chainHash,
  contentDigest,
  GENESIS_HASH,
  PERSONAL_FIELDS,
  personalDigest,
  personalValue,
} from "./chain";

export type Tampering = "altered" | "inserted" | "deleted";

export interface ChainReport {
  chain: string;
  intact: boolean;
  /** The first problem found: which kind, at which position (and which row, if it exists). */
  problem?: { kind: Tampering; seq: number; id?: string; detail: string };
  anchor: { seq: number; hash: string };
  head: { seq: number; hash: string };
  sealed: number;
  redacted: number;
  /** Written since the last tick and not sealed yet: not covered by the chain. */
  unsealed: number;
}

const PAGE = 1000;

export async function verifyChain(db: Database, chain: string): Promise<ChainReport> {
  const heads = await db.execute<{
    head_seq: string;
    head_hash: string;
    anchor_seq: string;
    anchor_hash: string;
  }>(sql`select head_seq, head_hash, anchor_seq, anchor_hash from audit_chains where app_id = ${chain}`);
  const recorded = heads.rows[0];
  const anchor = { seq: Number(recorded?.anchor_seq ?? 0), hash: recorded?.anchor_hash ?? GENESIS_HASH };
  const head = { seq: Number(recorded?.head_seq ?? 0), hash: recorded?.head_hash ?? GENESIS_HASH };
  const unsealed = await db.execute<{ count: number }>(
    sql`select count(*)::int as count from audit where chain_seq is null and coalesce(app_id, '') = ${chain}`,
  );
  const report: ChainReport = {
    chain,
    intact: true,
    anchor,
    head,
    sealed: 0,
    redacted: 0,
    unsealed: unsealed.rows[0]?.count ?? 0,
  };
  const walk = { seq: anchor.seq, hash: anchor.hash };
  let after = { seq: -1, id: "00000000-0000-0000-0000-000000000000" };
  for (;;) {
    const page = await db.execute<ChainRow>(sql`
      select ${CHAIN_COLUMNS} from audit
      where coalesce(app_id, '') = ${chain} and chain_seq is not null and (chain_seq, id) > (${after.seq}, ${after.id}::uuid)
      order by chain_seq, id limit ${PAGE}`);
    for (const [index, row] of page.rows.entries()) {
      const twin = page.rows[index + 1];
      const problem =
        twin && Number(twin.chain_seq) === Number(row.chain_seq)
          ? await intruderOf(row, twin, walk, report)
          : await checkRow(row, walk, report);
      if (problem) return { ...report, intact: false, problem };
    }
    const last = page.rows.at(-1);
    if (!last || page.rows.length < PAGE) break;
    after = { seq: Number(last.chain_seq), id: last.id };
  }
  if (walk.seq < head.seq) {
    return {
      ...report,
      intact: false,
      problem: missing(walk.seq + 1, "rows after it up to the head are gone"),
    };
  }
  if (walk.hash !== head.hash) {
    const detail = "the last row does not end in the recorded head";
    return { ...report, intact: false, problem: { kind: "altered", seq: walk.seq, detail } };
  }
  return report;
}

async function checkRow(
  row: ChainRow,
  walk: { seq: number; hash: string },
  report: ChainReport,
): Promise<ChainReport["problem"]> {
  const seq = Number(row.chain_seq);
  if (seq <= walk.seq)
    return { kind: "inserted", seq, id: row.id, detail: "a second row at a taken position" };
  if (seq > report.head.seq)
    return { kind: "inserted", seq, id: row.id, detail: "a row past the recorded head" };
  if (seq > walk.seq + 1) return missing(walk.seq + 1, `the next row present is at ${seq}`);
  const personal = row.personal ?? {};
  let redacted = false;
  for (const field of PERSONAL_FIELDS) {
    const value = personalValue(row, field);
    const entry = personal[field];
    if (value === undefined) {
      redacted ||= entry !== undefined;
      continue;
    }
    const intact =
      entry?.salt !== undefined && (await personalDigest(entry.salt, field, value)) === entry.digest;
    if (!intact) return { kind: "altered", seq, id: row.id, detail: `${field} differs from what was sealed` };
  }
  if ((await contentDigest(row, personal)) !== row.content_digest) {
    return { kind: "altered", seq, id: row.id, detail: "its content differs from what was sealed" };
  }
  const expected = await chainHash(walk.hash, seq, row.content_digest ?? "");
  if (expected !== row.chain_hash) {
    return { kind: "altered", seq, id: row.id, detail: "its link to the previous row is broken" };
  }
  walk.seq = seq;
  walk.hash = expected;
  report.sealed += 1;
  if (redacted) report.redacted += 1;
  return undefined;
}

/** Two rows at one position: the one that does not verify was inserted. */
async function intruderOf(
  row: ChainRow,
  twin: ChainRow,
  walk: { seq: number; hash: string },
  report: ChainReport,
): Promise<ChainReport["problem"]> {
  const genuine = (await checkRow(row, { ...walk }, { ...report })) === undefined;
  const intruder = genuine ? twin : row;
  const seq = Number(row.chain_seq);
  return { kind: "inserted", seq, id: intruder.id, detail: "a second row at a taken position" };
}

function missing(seq: number, detail: string): NonNullable<ChainReport["problem"]> {
  return { kind: "deleted", seq, detail: `the row at position ${seq} is missing (${detail})` };
}
