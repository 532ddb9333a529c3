/**
 * How long each table keeps its rows: one entry per kind of row that stops protecting
 * anything, with the batch statement that removes (or redacts) it and the index that serves
 * it. Nothing here grows without bound; live rows are never touched.
 */
import { type SQL, sql } from "drizzle-orm";

export interface RetentionSettings {
  /** Audit rows are deleted after this many days; 0 keeps them forever. */
  auditRetentionDays: number;
  /** The attempted email of failed sign-ins is blanked after this many days. */
  auditPiiDays: number;
}

export type RetentionKey =
  | "revokedJti"
  | "refreshTokensExpired"
  | "refreshTokensRevoked"
  | "emailTokensUsed"
  | "emailTokensExpired"
  | "mfaChallengesExpired"
  | "passkeyChallengesExpired"
  | "emailLogins"
  | "handoffCodes"
  | "oauthStates"
  | "auditExpired"
  | "auditPii";

export interface RetentionRule {
  key: RetentionKey;
  table:
    | "revoked_jti"
    | "refresh_tokens"
    | "email_tokens"
    | "mfa_challenges"
    | "passkey_challenges"
    | "email_logins"
    | "handoff_codes"
    | "oauth_states"
    | "audit";
  /** The rows past retention (a WHERE condition on the table, alias-free). */
  due: SQL;
  /** Delete them, or blank a part of them. */
  action: "delete" | SQL;
  /** The indexed column that `due` bounds: batches take the oldest rows first, along its index. */
  oldest: SQL;
  /** One batch of at most `limit` rows, when a database function does the work (the audit's). */
  batch?: (limit: number) => SQL;
}

/** Revoked refresh rows are kept this long for forensics; their session has already ended. */
const REVOKED_REFRESH_RETENTION = sql`interval '24 hours'`;

/** Every rule, by the database's clock. */
export function retentionRules(settings: RetentionSettings): RetentionRule[] {
  const rules: RetentionRule[] = [
    // A revocation protects nothing once its token has expired (exp is enforced exactly).
    {
      key: "revokedJti",
      table: "revoked_jti",
      due: sql`expires_at < now()`,
      action: "delete",
      oldest: sql`expires_at`,
    },
    {
      // Spent rows serve reuse detection until the whole session has expired; then they go.
      // A scalar subquery, probed per expired row through the session index and stopped by
      // the batch's LIMIT. Written as NOT EXISTS, the planner turns it into an anti join that
      // hashes every live row of the table for each batch: seconds per batch at millions.
      key: "refreshTokensExpired",
      table: "refresh_tokens",
      due: sql`expires_at < now() and (
        select max(session.expires_at) from refresh_tokens session
        where session.session_id = refresh_tokens.session_id) < now()`,
      action: "delete",
      oldest: sql`expires_at`,
    },
    {
      key: "refreshTokensRevoked",
      table: "refresh_tokens",
      due: sql`revoked_at < now() - ${REVOKED_REFRESH_RETENTION}`,
      action: "delete",
      oldest: sql`revoked_at`,
    },
    {
      key: "emailTokensUsed",
      table: "email_tokens",
      due: sql`used_at is not null`,
      action: "delete",
      oldest: sql`used_at`,
    },
    {
      key: "emailTokensExpired",
      table: "email_tokens",
      due: sql`expires_at < now()`,
      action: "delete",
      oldest: sql`expires_at`,
    },
    // A pending second-factor sign-in lives 5 minutes; used ones expire with it.
    {
      key: "mfaChallengesExpired",
      table: "mfa_challenges",
      due: sql`expires_at < now()`,
      action: "delete",
      oldest: sql`expires_at`,
    },
    // Passkey challenges live 5 minutes too; spent ones wait for their expiry.
    {
      key: "passkeyChallengesExpired",
      table: "passkey_challenges",
      due: sql`expires_at < now()`,
      action: "delete",
      oldest: sql`expires_at`,
    },
    {
      // Sign-in codes, once expired (10 minutes, so past the minute that throttles the next
      // mail too); spent ones wait for their expiry, which keeps the batch on the index.
      key: "emailLogins",
      table: "email_logins",
      due: sql`expires_at < now()`,
      action: "delete",
      oldest: sql`expires_at`,
    },
    // A hand-off code lives 60 seconds; spent ones wait for their expiry too.
    {
      key: "handoffCodes",
      table: "handoff_codes",
      due: sql`expires_at < now()`,
      action: "delete",
      oldest: sql`expires_at`,
    },
    // A social sign-in's state lives 10 minutes; spent ones wait for their expiry too.
    {
      key: "oauthStates",
      table: "oauth_states",
      due: sql`expires_at < now()`,
      action: "delete",
      oldest: sql`expires_at`,
    },
    {
      key: "auditPii",
      table: "audit",
      due: sql`details ? 'email' and created_at < now() - ${days(settings.auditPiiDays)}`,
      action: sql`details = details - 'email'`,
      oldest: sql`created_at`,
      // The app's role may not update audit rows: the SECURITY DEFINER function blanks the
      // email and its salt, keeping the digest the chain covers (src/audit/chain.ts).
      batch: (limit) => sql`select * from audit_redact_emails(${settings.auditPiiDays}, ${limit})`,
    },
  ];
  if (settings.auditRetentionDays > 0) {
    rules.push({
      key: "auditExpired",
      table: "audit",
      due: sql`created_at < now() - ${days(settings.auditRetentionDays)}`,
      action: "delete",
      oldest: sql`created_at`,
      // Sealed rows only, from the start of each chain, recording the chain's new anchor.
      batch: (limit) => sql`select * from audit_expire(${settings.auditRetentionDays}, ${limit})`,
    });
  }
  return rules;
}

/**
 * One batch of a rule: at most `limit` rows, skipping rows a request holds, so the statement
 * never waits on (or for long blocks) the hot path. Returns the SQL; rowCount says how many.
 */
export function batchStatement(rule: RetentionRule, limit: number): SQL {
  if (rule.batch) return rule.batch(limit);
  const table = sql.identifier(rule.table);
  // Oldest first, in the order of the column's index: with a bare LIMIT the planner may prefer a
  // sequential scan, betting that qualifying rows are spread evenly (seen on 1M revoked_jti
  // rows); when they are not, each batch reads the whole table.
  const rows = sql`select ctid from ${table} where ${rule.due} order by ${rule.oldest}
    limit ${limit} for update skip locked`;
  return rule.action === "delete"
    ? sql`delete from ${table} where ctid in (${rows})`
    : sql`update ${table} set ${rule.action} where ctid in (${rows})`;
}

function days(count: number): SQL {
  return sql`${count} * interval '1 day'`;
}
