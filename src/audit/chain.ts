/**
 * The audit's hash chain: its canonical serialisation and digests, shared by the cron that seals
 * rows and by `gravy audit verify`.
 *
 * - A row's personal fields (PERSONAL_FIELDS) enter its content only as salted digests, kept in
 *   the row's `personal` column beside their salts. Redaction blanks a field and its salt and
 *   keeps the digest: the row still verifies, as redacted, and the blanked value cannot be
 *   recovered by guessing against the digest.
 * - content digest = SHA-256 of the canonical JSON of {v, id, app, user, event, details (without
 *   personal keys), at, personal: {field: digest}}: keys sorted at every level, no whitespace,
 *   `at` in UTC with microseconds.
 * - chain hash = SHA-256("<previous chain hash>\n<position>\n<content digest>"), the chain of
 *   each app starting from 64 zeros (or, after retention deleted its oldest rows, from the
 *   anchor: the last deleted row's position and chain hash).
 */
import { type SQL, sql } from "drizzle-orm";

export const GENESIS_HASH = "0".repeat(64);

/** Fields that redaction may blank: `details.email` is a key of the details object. */
export const PERSONAL_FIELDS = ["details.email", "ip", "user_agent"] as const;
export type PersonalField = (typeof PERSONAL_FIELDS)[number];

export type Personal = Partial<Record<PersonalField, { digest: string; salt?: string }>>;

/** An audit row as the chain reads it. */
export type ChainRow = {
  id: string;
  app_id: string | null;
  user_id: string | null;
  event: string;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown> | null;
  /** created_at in UTC with microseconds, e.g. 2026-12-02T06:43:48.123456Z. */
  at: string;
  chain_seq: number | string | null;
  content_digest: string | null;
  chain_hash: string | null;
  personal: Personal | null;
};

export const CHAIN_COLUMNS: SQL = sql`id, app_id, user_id, event, ip, user_agent, details,
  to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
  chain_seq, content_digest, chain_hash, personal`;

/** The chain a row belongs to: its app, or '' for rows of no app (the cleanup's records). */
export function chainKey(appId: string | null): string {
  return appId ?? "";
}

/** A personal field's value, or undefined when blank. */
export function personalValue(row: ChainRow, field: PersonalField): string | undefined {
  const value = field === "details.email" ? row.details?.email : row[field];
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function personalDigest(salt: string, field: PersonalField, value: string): Promise<string> {
  return sha256Hex(`${salt}\n${field}\n${value}`);
}

/** The digest of a row's content, its personal fields given by their digests. */
export function contentDigest(row: ChainRow, personal: Personal): Promise<string> {
  const { email: _personal, ...details } = row.details ?? {};
  const digests = Object.fromEntries(
    Object.entries(personal).map(([field, entry]) => [field, entry?.digest ?? null]),
  );
  return sha256Hex(
    canonicalJson({
      v: 1,
      id: row.id,
      app: row.app_id,
      user: row.user_id,
      event: row.event,
      details,
      at: row.at,
      personal: digests,
    }),
  );
}

export function chainHash(previous: string, seq: number, content: string): Promise<string> {
  return sha256Hex(`${previous}\n${seq}\n${content}`);
}

/** JSON with object keys sorted at every level and no whitespace. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function randomSalt(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}
