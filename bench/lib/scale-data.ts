/**
 * The scale bench's data, made inside Postgres with generate_series: users across ten apps
 * sharing one real password hash, refresh rows (most spent or expired), revocations, audit
 * rows and mailed links, with a backlog past retention for one cleanup to clear. Secondary indexes are
 * dropped while filling and rebuilt after (a sort per index, not millions of inserts into
 * each), and foreign keys are not re-checked row by row: every reference is made valid here.
 */
import pg from "pg";
import { APP_ID } from "./environment";

export interface ScaleSize {
  users: number;
  refreshRows: number;
  revokedJti: number;
  auditRows: number;
  /** Mailed links: not asked for by the scenario, but their cleanup must use indexes too. */
  emailTokens: number;
  /**
   * Rows of each table already past retention: the cleanup's backlog. None of the audit: its
   * rows expire through audit_expire() only once sealed into their app's hash chain, which
   * rows written here are not.
   */
  backlog: { refreshRows: number; revokedJti: number; auditRows: number; emailTokens: number };
}

export const FULL_SIZE: ScaleSize = {
  users: 1_000_000,
  refreshRows: 5_000_000,
  revokedJti: 1_000_000,
  auditRows: 5_000_000,
  emailTokens: 1_000_000,
  backlog: { refreshRows: 700_000, revokedJti: 200_000, auditRows: 0, emailTokens: 100_000 },
};

/** The same shape, 500 times smaller: what CI runs so the scenario keeps working. */
export const TINY_SIZE: ScaleSize = {
  users: 2_000,
  refreshRows: 10_000,
  revokedJti: 2_000,
  auditRows: 10_000,
  emailTokens: 2_000,
  backlog: { refreshRows: 1_400, revokedJti: 400, auditRows: 0, emailTokens: 200 },
};

export const backlogRows = (size: ScaleSize) =>
  Object.values(size.backlog).reduce((sum, rows) => sum + rows, 0);

const APPS = 10;
const TABLES = ["users", "refresh_tokens", "revoked_jti", "audit", "email_tokens"];

/** Fills the database; `passwordHash` is a real hash of the bench password, shared by all. */
export async function seedScaleData(url: string, size: ScaleSize, passwordHash: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query("set maintenance_work_mem = '256MB'; set synchronous_commit = off");
    // Every row references a real user and app; skipping the per-row checks saves minutes.
    await client.query("set session_replication_role = replica");
    await withoutSecondaryIndexes(client, () => fill(client, size, passwordHash));
    await client.query("set session_replication_role = origin");
    await client.query(`analyze ${TABLES.join(", ")}, apps`);
  } finally {
    await client.end();
  }
}

async function fill(client: pg.Client, size: ScaleSize, passwordHash: string): Promise<void> {
  const { users, refreshRows, revokedJti, auditRows, emailTokens, backlog } = size;
  // The bench's own app is one of the ten, so its logins search among the large tables.
  const appOf = (n: string) =>
    `case when ${n} % ${APPS} = 0 then '${APP_ID}' else 'scale-' || ${n} % ${APPS} end`;
  await client.query(
    `insert into apps (id, name, url)
       select 'scale-' || a, 'Scale ' || a, 'http://127.0.0.1' from generate_series(1, ${APPS - 1}) a
       on conflict do nothing`,
  );
  await client.query(
    `insert into users (app_id, email, password_hash, email_verified, created_at)
       select ${appOf("i")}, 'scale-' || i || '@example.com', $1, true, now() - (i % 700) * interval '1 day'
       from generate_series(1, ${users}) i`,
    [passwordHash],
  );
  await client.query(
    `create temporary table seeded as
       select row_number() over () - 1 as n, id, app_id from users where email like 'scale-%'`,
  );
  await client.query("create index on seeded (n); analyze seeded");
  // First the backlog: single-row sessions that ended a day ago. Then live sessions, one per
  // user, whose chains hold spent rows and, last, one unspent row each.
  await client.query(
    `insert into refresh_tokens (app_id, user_id, session_id, token_hash, access_jti, access_expires_at,
        created_at, expires_at, rotated_at, session_created_at)
       select s.app_id, s.id,
         case when j <= ${backlog.refreshRows} then md5('ended-' || j)::uuid else md5('live-' || s.id)::uuid end,
         md5('refresh-' || j), 'scale-access-' || j,
         now() - interval '30 days' + interval '15 minutes',
         now() - interval '30 days' + (j % 1000) * interval '1 second',
         case when j <= ${backlog.refreshRows} then now() - interval '1 day' else now() + interval '20 days' end,
         case when j <= ${backlog.refreshRows} or j > ${refreshRows - users} then null
           else now() - interval '30 days' end,
         now() - interval '30 days'
       from generate_series(1, ${refreshRows}) j join seeded s on s.n = j % ${users}`,
  );
  await client.query(
    `insert into revoked_jti (jti, app_id, user_id, expires_at, revoked_at, published_to_kv)
       select 'scale-revoked-' || j, s.app_id, s.id,
         case when j <= ${backlog.revokedJti} then now() - interval '1 hour' else now() + interval '1 day' end,
         now() - interval '1 hour', true
       from generate_series(1, ${revokedJti}) j join seeded s on s.n = j % ${users}`,
  );
  await client.query(
    `insert into audit (app_id, user_id, event, details, created_at)
       select s.app_id, s.id, 'refresh', '{}',
         case when j <= ${backlog.auditRows} then now() - interval '500 days'
           else now() - (j % 365) * interval '1 day' end
       from generate_series(1, ${auditRows}) j join seeded s on s.n = j % ${users}`,
  );
  // Half of the backlog used, half expired unused; the rest wait to be clicked.
  await client.query(
    `insert into email_tokens (app_id, user_id, kind, token_hash, created_at, expires_at, used_at)
       select s.app_id, s.id, 'verify_email', md5('email-' || j), now() - interval '1 hour',
         case when j <= ${backlog.emailTokens} then now() - interval '1 minute' else now() + interval '1 day' end,
         case when j <= ${backlog.emailTokens / 2} then now() - interval '30 minutes' end
       from generate_series(1, ${emailTokens}) j join seeded s on s.n = j % ${users}`,
  );
}

async function withoutSecondaryIndexes(client: pg.Client, fill: () => Promise<void>): Promise<void> {
  const { rows } = await client.query<{ indexname: string; indexdef: string }>(
    `select i.indexname, i.indexdef from pg_indexes i
       where i.schemaname = 'public' and i.tablename = any($1)
         and not exists (select 1 from pg_constraint c where c.conname = i.indexname)`,
    [TABLES],
  );
  for (const { indexname } of rows) await client.query(`drop index ${client.escapeIdentifier(indexname)}`);
  await fill();
  for (const { indexdef } of rows) await client.query(indexdef);
}
