/**
 * Sealing: the cron links the rows written since its last tick into their app's chain. Inserts
 * on the hot path stay one plain statement, with no per-app serialisation; the price is that
 * the guarantee covers sealed rows, so a row is tamper-evident from the next tick on (a minute).
 * The database function audit_seal writes the links under a lock on the chain's head, and only
 * onto rows not yet sealed; a sealer that lost a race to another finds the head moved and
 * leaves that chain to the next tick.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db";
import {
  CHAIN_COLUMNS,
  type ChainRow,
  chainHash,
  chainKey,
  contentDigest,
  GENESIS_HASH,
  PERSONAL_FIELDS,
  type Personal,
  personalDigest,
  personalValue,
  randomSalt,
} from "./chain";

/** Rows linked per chain and statement; a tick seals at most SEAL_BUDGET rows in all. */
const SEAL_BATCH = 500;
export const SEAL_BUDGET = 5000;

export interface SealResult {
  sealed: number;
  /** Chains left for the next tick (budget spent, or another sealer held them). */
  pending: boolean;
}

/** Seals unsealed rows of every chain, oldest first, within the budget. */
export async function sealAudit(db: Database, budget: number = SEAL_BUDGET): Promise<SealResult> {
  const chains = await db.execute<{ chain: string }>(
    sql`select distinct coalesce(app_id, '') as chain from audit where chain_seq is null`,
  );
  let sealed = 0;
  let pending = false;
  for (const { chain } of chains.rows) {
    while (sealed < budget) {
      const count = await sealBatch(db, chain, Math.min(SEAL_BATCH, budget - sealed));
      if (count < 0) pending = true;
      if (count <= 0) break;
      sealed += count;
      if (count < SEAL_BATCH) break;
    }
    if (sealed >= budget) pending = true;
  }
  return { sealed, pending };
}

/** Links the next batch of one chain; the number of rows sealed, or -1 if the head moved. */
async function sealBatch(db: Database, chain: string, limit: number): Promise<number> {
  const head = await db.execute<{ head_seq: number | string; head_hash: string }>(
    sql`select head_seq, head_hash from audit_chains where app_id = ${chain}`,
  );
  let seq = Number(head.rows[0]?.head_seq ?? 0);
  let previous = head.rows[0]?.head_hash ?? GENESIS_HASH;
  const expected = seq;
  const rows = await db.execute<ChainRow>(sql`
    select ${CHAIN_COLUMNS} from audit
    where chain_seq is null and coalesce(app_id, '') = ${chain}
    order by created_at, id limit ${limit}`);
  if (rows.rows.length === 0) return 0;
  const links = [];
  for (const row of rows.rows) {
    if (chainKey(row.app_id) !== chain) continue;
    const personal = await sealPersonal(row);
    const content = await contentDigest(row, personal);
    seq += 1;
    previous = await chainHash(previous, seq, content);
    links.push({ id: row.id, seq, contentDigest: content, chainHash: previous, personal });
  }
  const result = await db.execute<{ head: number | string }>(
    sql`select audit_seal(${chain}, ${expected}, ${JSON.stringify(links)}::jsonb) as head`,
  );
  return Number(result.rows[0]?.head) < 0 ? -1 : links.length;
}

async function sealPersonal(row: ChainRow): Promise<Personal> {
  const personal: Personal = {};
  for (const field of PERSONAL_FIELDS) {
    const value = personalValue(row, field);
    if (value === undefined) continue;
    const salt = randomSalt();
    personal[field] = { digest: await personalDigest(salt, field, value), salt };
  }
  return personal;
}
