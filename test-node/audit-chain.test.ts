/**
 * The audit's hash chain against a real database: rows sealed by `gravy audit seal` (the cron's
 * function), then edited, deleted and inserted by SQL behind Turkey's back — `gravy audit
 * verify` names each. Redaction (the PII retention, an account's deletion) and retention
 * deletions leave the chain verifiable.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { gravy, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const env = { DATABASE_URL: url, AUDIT_PII_DAYS: "30", AUDIT_RETENTION_DAYS: "400" };

interface Report {
  intact: boolean;
  problem?: { kind: string; seq: number; id?: string };
  anchor: { seq: number };
  head: { seq: number };
  sealed: number;
  redacted: number;
  unsealed: number;
}

/** Writes `count` rows for a new app, `daysAgo` old, each with an attempted email; returns the app. */
async function appWithRows(count: number, daysAgo = 0): Promise<{ appId: string; userId: string }> {
  const appId = `chain-${randomUUID().slice(0, 8)}`;
  const userId = randomUUID();
  for (let i = 0; i < count; i++) {
    await query(
      url,
      `insert into audit (app_id, user_id, event, ip, user_agent, details, created_at)
       values ($1, $2, 'login_failed', '203.0.113.7', 'agent/1', $3, now() - $4 * interval '1 day' + $5 * interval '1 ms')`,
      [appId, userId, JSON.stringify({ email: `user${i}@example.com`, reason: "password" }), daysAgo, i],
    );
  }
  const sealed = await gravy(["audit", "seal"], env);
  expect(sealed.code).toBe(0);
  return { appId, userId };
}

async function verify(appId: string): Promise<{ code: number; report: Report; stderr: string }> {
  const result = await gravy(["audit", "verify", appId, "--json"], env);
  return { code: result.code, report: JSON.parse(result.stdout) as Report, stderr: result.stderr };
}

async function idAt(appId: string, seq: number): Promise<string> {
  const [row] = await query<{ id: string }>(
    url,
    "select id from audit where app_id = $1 and chain_seq = $2",
    [appId, seq],
  );
  return row?.id ?? "";
}

describe("gravy audit verify", () => {
  it("finds an intact chain intact", async () => {
    const { appId } = await appWithRows(5);
    const { code, report } = await verify(appId);
    expect(code).toBe(0);
    expect(report).toMatchObject({ intact: true, sealed: 5, redacted: 0, unsealed: 0, head: { seq: 5 } });
  });

  it.each([
    ["the event", "event = 'login_succeeded'"],
    ["the attempted email", `details = jsonb_set(details, '{email}', '"someone@example.com"')`],
    ["another detail", `details = jsonb_set(details, '{reason}', '"locked"')`],
    ["the time", "created_at = created_at + interval '1 second'"],
    ["the ip", "ip = '198.51.100.1'"],
    ["the link", "chain_hash = repeat('a', 64)"],
  ])("finds a row with %s altered", async (_what, change) => {
    const { appId } = await appWithRows(5);
    const id = await idAt(appId, 3);
    await query(url, `update audit set ${change} where id = $1`, [id]);
    const { code, report, stderr } = await verify(appId);
    expect(code).toBe(1);
    expect(report.problem).toMatchObject({ kind: "altered", seq: 3, id });
    expect(stderr).toContain("row altered at position 3");
  });

  it("finds a deleted row, in the middle or at the end", async () => {
    const { appId } = await appWithRows(5);
    await query(url, "delete from audit where app_id = $1 and chain_seq = 2", [appId]);
    expect((await verify(appId)).report.problem).toMatchObject({ kind: "deleted", seq: 2 });

    const tail = await appWithRows(4);
    await query(url, "delete from audit where app_id = $1 and chain_seq = 4", [tail.appId]);
    expect((await verify(tail.appId)).report.problem).toMatchObject({ kind: "deleted", seq: 4 });
  });

  it("finds an inserted row, at a taken position or past the head", async () => {
    const { appId } = await appWithRows(5);
    const copy = `insert into audit (app_id, event, created_at, chain_seq, content_digest, chain_hash, personal)
      select app_id, 'logout', created_at, $2, content_digest, chain_hash, personal from audit
      where app_id = $1 and chain_seq = 3 returning id`;
    const [inserted] = await query<{ id: string }>(url, copy, [appId, 3]);
    expect((await verify(appId)).report.problem).toMatchObject({
      kind: "inserted",
      seq: 3,
      id: inserted?.id,
    });

    const other = await appWithRows(3);
    const [past] = await query<{ id: string }>(url, copy, [other.appId, 4]);
    expect((await verify(other.appId)).report.problem).toMatchObject({
      kind: "inserted",
      seq: 4,
      id: past?.id,
    });
  });

  it("reports rows not sealed yet without counting them as tampering", async () => {
    const { appId } = await appWithRows(2);
    await query(url, "insert into audit (app_id, event) values ($1, 'logout')", [appId]);
    const { code, report } = await verify(appId);
    expect(code).toBe(0);
    expect(report).toMatchObject({ intact: true, sealed: 2, unsealed: 1 });
  });
});

describe("redaction and retention", () => {
  it("the PII retention blanks emails: the rows verify, as redacted", async () => {
    const { appId } = await appWithRows(3, 40);
    const cleanup = await gravy(["db", "cleanup"], env);
    expect(cleanup.code).toBe(0);
    const rows = await query<{
      details: Record<string, unknown>;
      personal: Record<string, { salt?: string }>;
    }>(url, "select details, personal from audit where app_id = $1", [appId]);
    expect(rows.every((row) => row.details.email === undefined && row.details.reason === "password")).toBe(
      true,
    );
    expect(rows.every((row) => row.personal["details.email"]?.salt === undefined)).toBe(true);
    expect((await verify(appId)).report).toMatchObject({ intact: true, sealed: 3, redacted: 3 });

    // Putting a value back where one was blanked is not a redaction.
    await query(url, `update audit set details = details || '{"email":"x@example.com"}' where app_id = $1`, [
      appId,
    ]);
    expect((await verify(appId)).report.problem?.kind).toBe("altered");
  });

  it("an account's deletion blanks its personal fields: the chain verifies", async () => {
    const { appId, userId } = await appWithRows(3);
    const redacted = await query(url, "select * from audit_redact_user($1)", [userId]);
    expect(redacted).toHaveLength(3);
    expect((await verify(appId)).report).toMatchObject({ intact: true, redacted: 3 });
  });

  it("retention deletes the oldest rows and records an anchor: the rest verifies from it", async () => {
    const old = await appWithRows(3, 500);
    const { appId } = old;
    // Newer rows of the same app, sealed after the old ones.
    await query(
      url,
      "insert into audit (app_id, event, details) select $1, 'refresh', '{}' from generate_series(1, 2)",
      [appId],
    );
    expect((await gravy(["audit", "seal"], env)).code).toBe(0);
    expect((await gravy(["db", "cleanup"], env)).code).toBe(0);
    const left = await query<{ seq: string }>(url, "select chain_seq as seq from audit where app_id = $1", [
      appId,
    ]);
    expect(left.map((row) => Number(row.seq)).sort()).toEqual([4, 5]);
    const { code, report } = await verify(appId);
    expect(code).toBe(0);
    expect(report).toMatchObject({ intact: true, sealed: 2, anchor: { seq: 3 }, head: { seq: 5 } });

    // The anchor does not excuse a later deletion.
    await query(url, "delete from audit where app_id = $1 and chain_seq = 4", [appId]);
    expect((await verify(appId)).report.problem).toMatchObject({ kind: "deleted", seq: 4 });
  });
});
