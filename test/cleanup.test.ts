import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { decodeJwt } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { runCleanup } from "../src/cron/cleanup";
import { isCleanupDue } from "../src/cron/index";
import { openWorkerDatabase } from "../src/db";
import worker from "../src/index";
import { forgetRevocations } from "../src/revocation";
import { client, createTestApp, errorCode, manualClock } from "./support/fixtures";
import { bindings, openTestDatabase, postJson, send } from "./support/worker";

// Cleanup judges expiry by the database's clock. Other files share the database, but their
// clocks start at the real time, so only rows this file seeds in the past count as expired.
const NOW = new Date();
const hoursAgo = (hours: number) => new Date(NOW.getTime() - hours * 3600_000).toISOString();
const hoursAhead = (hours: number) => new Date(NOW.getTime() + hours * 3600_000).toISOString();

let appId: string;
let userId: string;

beforeAll(async () => {
  appId = await createTestApp("cleanup");
  userId = (await client(createApp(), appId).register()).user.id;
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function exec(text: string) {
  const handle = openTestDatabase();
  try {
    return (await handle.db.execute(text)).rows;
  } finally {
    await handle.close();
  }
}

const RETENTION = { auditRetentionDays: 400, auditPiiDays: 30 };

async function seed(tag: string) {
  const session = crypto.randomUUID();
  const refresh = (
    suffix: string,
    expires: string,
    revoked: string | null,
    sessionId = "gen_random_uuid()",
  ) =>
    `('${appId}', '${userId}', ${sessionId}, '${tag}-${suffix}', 'jti', '${expires}', '${hoursAgo(48)}',
      '${expires}', ${revoked ? `'${revoked}'` : "null"}, '${hoursAgo(48)}')`;
  await exec(`
    insert into revoked_jti (jti, app_id, user_id, expires_at) values
      ('${tag}-jti-expired', '${appId}', '${userId}', '${hoursAgo(1)}'),
      ('${tag}-jti-live', '${appId}', '${userId}', '${hoursAhead(1)}');
    insert into refresh_tokens (app_id, user_id, session_id, token_hash, access_jti, access_expires_at,
      created_at, expires_at, revoked_at, session_created_at) values
      ${refresh("expired", hoursAgo(1), null)},
      ${refresh("revoked-long-ago", hoursAhead(100), hoursAgo(25))},
      ${refresh("revoked-recently", hoursAhead(100), hoursAgo(2))},
      ${refresh("live", hoursAhead(100), null)},
      ${refresh("spent-of-live-session", hoursAgo(1), null, `'${session}'`)},
      ${refresh("newest-of-live-session", hoursAhead(100), null, `'${session}'`)};
    insert into email_tokens (app_id, user_id, kind, token_hash, expires_at, used_at) values
      ('${appId}', '${userId}', 'verify_email', '${tag}-used', '${hoursAhead(1)}', '${hoursAgo(1)}'),
      ('${appId}', '${userId}', 'reset_password', '${tag}-expired', '${hoursAgo(1)}', null),
      ('${appId}', '${userId}', 'reset_password', '${tag}-live', '${hoursAhead(1)}', null);
    insert into audit (app_id, event, details, created_at) values
      ('${appId}', '${tag}-ancient', '{}', '${hoursAgo(401 * 24)}'),
      ('${appId}', '${tag}-old-failure', '{"email":"${tag}@example.com","reason":"wrong_password"}', '${hoursAgo(31 * 24)}'),
      ('${appId}', '${tag}-new-failure', '{"email":"${tag}@example.com","reason":"wrong_password"}', '${hoursAgo(1)}');`);
}

async function remaining(tag: string) {
  const rows = await exec(`
    select jti as id from revoked_jti where jti like '${tag}-%'
    union all select token_hash from refresh_tokens where token_hash like '${tag}-%'
    union all select token_hash from email_tokens where token_hash like '${tag}-%'
    union all select event || coalesce(':' || (details->>'email'), '') from audit where event like '${tag}-%'`);
  return rows.map((row) => String(row.id)).sort();
}

async function withDatabase<T>(work: (db: ReturnType<typeof openWorkerDatabase>["db"]) => Promise<T>) {
  const handle = openWorkerDatabase(bindings);
  try {
    return await work(handle.db);
  } finally {
    await handle.close();
  }
}

describe("runCleanup", () => {
  it("removes exactly the rows past retention, redacts old emails, keeps the rest", async () => {
    await seed("exact");
    const result = await withDatabase((db) => runCleanup(db, RETENTION));
    expect(result.incomplete).toBe(false);
    for (const key of [
      "revokedJti",
      "refreshTokensExpired",
      "refreshTokensRevoked",
      "auditExpired",
      "auditPii",
    ]) {
      expect(result.counts[key as keyof typeof result.counts]).toBeGreaterThanOrEqual(1);
    }
    expect(await remaining("exact")).toEqual(
      [
        "exact-jti-live",
        "exact-live",
        "exact-live",
        "exact-revoked-recently",
        // Spent, but its session is live: reuse detection still needs it.
        "exact-spent-of-live-session",
        "exact-newest-of-live-session",
        "exact-old-failure",
        "exact-new-failure:exact@example.com",
      ].sort(),
    );
  });

  it("keeps the audit forever with AUDIT_RETENTION_DAYS=0", async () => {
    await seed("forever");
    await withDatabase((db) => runCleanup(db, { ...RETENTION, auditRetentionDays: 0 }));
    expect(await remaining("forever")).toContain("forever-ancient");
  });

  it("logs one structured line with the counts", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    await withDatabase((db) => runCleanup(db, RETENTION));
    const line = lines.find((text) => text.includes("Cleanup job completed"));
    expect(JSON.parse(line ?? "{}")).toMatchObject({
      level: "info",
      message: "Cleanup job completed",
      revokedJti: expect.any(Number),
      refreshTokensExpired: expect.any(Number),
      emailTokensUsed: expect.any(Number),
      auditPii: expect.any(Number),
      durationMs: expect.any(Number),
      incomplete: false,
    });
  });

  it("deletes 100k expired rows in bounded batches", { timeout: 120_000 }, async () => {
    await exec(`insert into revoked_jti (jti, app_id, expires_at)
      select 'bulk-' || i, '${appId}', '${hoursAgo(2)}' from generate_series(1, 100000) as i`);
    const deletes: string[] = [];
    const handle = openWorkerDatabase(bindings, {
      onQuery: (sql) => {
        if (sql.startsWith('delete from "revoked_jti"')) deletes.push(sql);
      },
    });
    try {
      const result = await runCleanup(handle.db, { ...RETENTION, batchSize: 10_000 });
      expect(result.counts.revokedJti).toBeGreaterThanOrEqual(100_000);
      expect(deletes.length).toBeGreaterThanOrEqual(11);
    } finally {
      await handle.close();
    }
    expect(await exec("select count(*)::int as n from revoked_jti where jti like 'bulk-%'")).toEqual([
      { n: 0 },
    ]);
  });

  it("stops at its budget, records the run as incomplete, and the next tick continues it", async () => {
    await forgetCleanupRuns();
    await exec(`insert into revoked_jti (jti, app_id, expires_at)
      select 'budget-' || i, '${appId}', '${hoursAgo(2)}' from generate_series(1, 30) as i`);
    const result = await withDatabase((db) => runCleanup(db, { ...RETENTION, batchSize: 10, maxBatches: 2 }));
    expect(result.incomplete).toBe(true);
    expect(result.counts.revokedJti).toBe(20);
    const events = await exec("select event from audit where event like 'cleanup_%'");
    expect(events).toEqual([{ event: "cleanup_incomplete" }]);
    const later = manualClock(new Date(Date.now() + 3_600_000)); // past /health's isolate cache
    const health = (await (await send(createApp({ clock: later.now }), "/health")).json()) as {
      lastCleanupAt: string | null;
    };
    expect(health.lastCleanupAt).toBeNull();

    // The next minute's tick runs at once (the interval has not passed), and catches up.
    await tick(new Date());
    expect(await exec("select count(*)::int as n from revoked_jti where jti like 'budget-%'")).toEqual([
      { n: 0 },
    ]);
    const latest = await exec(
      "select event from audit where event like 'cleanup_%' order by created_at desc limit 1",
    );
    expect(latest).toEqual([{ event: "cleanup_completed" }]);
  });

  it("shows the backlog in /health, rows past retention counted per rule", async () => {
    await exec(`insert into revoked_jti (jti, app_id, expires_at)
      select 'backlog-' || i, '${appId}', '${hoursAgo(2)}' from generate_series(1, 25) as i`);
    const clock = manualClock(new Date(Date.now() + 86_400_000)); // past /health's isolate cache
    const health = (await (await send(createApp({ clock: clock.now }), "/health")).json()) as {
      cleanupBacklog: Record<string, number>;
    };
    expect(health.cleanupBacklog.revokedJti).toBeGreaterThanOrEqual(25);
    expect(Object.keys(health.cleanupBacklog)).toEqual(
      expect.arrayContaining(["refreshTokensExpired", "auditPii"]),
    );
    await withDatabase((db) => runCleanup(db, RETENTION));
  });
});

/** Forgets every recorded cleanup run (only this file runs cleanups), so the next tick is due. */
const forgetCleanupRuns = () => exec("delete from audit where event like 'cleanup_%'");

async function tick(at: Date) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: at }), bindings, ctx);
  await waitOnExecutionContext(ctx);
}

describe("whose clock", () => {
  it("never deletes a live revocation, however far ahead the caller's clock runs", async () => {
    await seed("clock");
    await forgetCleanupRuns();
    await tick(new Date("2200-01-01")); // a tick whose clock is far ahead, with a cleanup due
    const left = await remaining("clock");
    expect(left).toContain("clock-jti-live");
    expect(left).toContain("clock-live");
    expect(left).not.toContain("clock-jti-expired");
  });
});

describe("the schedule", () => {
  it("is due after CLEANUP_INTERVAL_HOURS since the last completed run", () => {
    const now = new Date("2026-11-27T12:00:00Z");
    expect(isCleanupDue(undefined, now, 24)).toBe(true);
    expect(isCleanupDue(new Date("2026-11-27T11:00:00Z"), now, 24)).toBe(false);
    expect(isCleanupDue(new Date("2026-11-26T12:00:00Z"), now, 24)).toBe(true);
    expect(isCleanupDue(new Date("2026-11-27T11:00:00Z"), now, 1)).toBe(true);
    // An hourly tick a little early still counts.
    expect(isCleanupDue(new Date("2026-11-27T11:02:00Z"), now, 1)).toBe(true);
  });

  it("runs from the Cron Trigger once per interval, by the database's clock, and shows in /health", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    const runs = () => lines.filter((line) => line.includes("Cleanup job completed")).length;
    await forgetCleanupRuns();
    await tick(new Date());
    await tick(new Date());
    expect(runs()).toBe(1);
    const later = manualClock(new Date(Date.now() + 7_200_000)); // past /health's isolate cache
    const health = (await (await send(createApp({ clock: later.now }), "/health")).json()) as {
      lastCleanupAt: string;
    };
    expect(Math.abs(Date.parse(health.lastCleanupAt) - Date.now())).toBeLessThan(60_000);

    // The interval (24 h by default) has passed once the recorded run is that old.
    await exec(
      "update audit set created_at = created_at - interval '25 hours' where event = 'cleanup_completed'",
    );
    await tick(new Date());
    expect(runs()).toBe(2);
  });
});

describe("healing a failed KV write", () => {
  it("keeps the revocation effective through Postgres and re-publishes it on the next tick", async () => {
    const app = createApp();
    const api = client(app, appId);
    const tokens = await client(app, appId).login((await api.register()).user.email, undefined);
    const failingKv = {
      ...bindings.REVOCATIONS,
      get: bindings.REVOCATIONS.get.bind(bindings.REVOCATIONS),
      put: () => Promise.reject(new Error("KV write failed")),
    } as unknown as KVNamespace;
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const logout = await send(
      app,
      "/v1/auth/logout",
      { method: "POST", headers: { "x-app-id": appId, authorization: `Bearer ${tokens.accessToken}` } },
      { REVOCATIONS: failingKv },
    );
    expect(logout.status).toBe(204);
    const { jti } = decodeJwt(tokens.accessToken);
    expect(await bindings.REVOCATIONS.get(`revoked:${jti}`)).toBeNull();
    expect(await exec(`select published_to_kv from revoked_jti where jti = '${jti}'`)).toEqual([
      { published_to_kv: false },
    ]);

    forgetRevocations(); // another isolate: it never saw the revocation happen
    expect(await errorCode(await api.get("/v1/auth/me", tokens.accessToken))).toBe("token_revoked");

    const ctx = createExecutionContext();
    await worker.scheduled(
      createScheduledController({ cron: "0 * * * *", scheduledTime: new Date() }),
      bindings,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(await bindings.REVOCATIONS.get(`revoked:${jti}`)).toBe("1");
    forgetRevocations();
    const introspection = await send(
      app,
      "/v1/auth/introspect",
      postJson({ token: tokens.accessToken }, { "x-app-id": appId }),
    );
    expect(await introspection.json()).toEqual({ active: false });
  });
});

describe("one tick's KV budget", () => {
  it("stays within 1,000 KV operations, and the next tick publishes the rest", async () => {
    await exec(`insert into revoked_jti (jti, app_id, expires_at, published_to_kv)
      select 'kvbudget-' || i, '${appId}', now() + interval '1 hour', false from generate_series(1, 1500) as i`);
    await forgetCleanupRuns(); // a cleanup is due too, in the same tick
    let operations = 0;
    const counted = new Proxy(bindings.REVOCATIONS, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          operations++;
          return value.apply(target, args);
        };
      },
    });
    const countedTick = async () => {
      operations = 0;
      const ctx = createExecutionContext();
      const controller = createScheduledController({ cron: "* * * * *", scheduledTime: new Date() });
      await worker.scheduled(controller, { ...bindings, REVOCATIONS: counted }, ctx);
      await waitOnExecutionContext(ctx);
      return operations;
    };
    const unpublished = async () =>
      (
        await exec(
          "select count(*)::int as n from revoked_jti where jti like 'kvbudget-%' and not published_to_kv",
        )
      )[0];
    const first = await countedTick();
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(1000);
    const left = Number((await unpublished())?.n);
    expect(left).toBeLessThan(1500);
    while (Number((await unpublished())?.n) > 0) expect(await countedTick()).toBeLessThanOrEqual(1000);
    // 1,500 KV writes through the local KV simulator: half a minute on a busy 2-core machine.
  }, 90_000);
});
