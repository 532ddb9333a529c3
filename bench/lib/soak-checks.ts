/**
 * What the soak must show: during each fault every request that needs the database answers
 * 503 `database_unavailable` with Retry-After (never a 500, never past the client timeout)
 * and introspection keeps answering; afterwards, in SQL, no session lost or forked and no
 * audit row missing; and how many seconds throughput took to come back.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { APP_ID } from "./environment";
import { type Answer, CLIENT_TIMEOUT_MS, NEEDS_DATABASE, type Operation, type Traffic } from "./soak-traffic";

export interface Fault {
  kind: "restart" | "unreachable";
  startMs: number;
  endMs: number;
}

type AnswerClass = "2xx" | "503" | "4xx" | "5xx" | "no answer";
const CLASSES: AnswerClass[] = ["2xx", "503", "4xx", "5xx", "no answer"];

export interface FaultFigures extends Fault {
  /** Answers to requests sent during the fault, by class; the database's and introspection's. */
  databaseAnswers: Partial<Record<AnswerClass, number>>;
  introspectAnswers: Partial<Record<AnswerClass, number>>;
  slowestMs: number;
  /** 2xx per second in the 20 s before the fault. */
  levelBefore: number;
  /** From the fault's end until three seconds in a row average ≥ 80 % of that level. */
  recoverySeconds: number | null;
}

export interface SoakChecks {
  totals: Record<Operation, Partial<Record<AnswerClass, number>>>;
  perSecond: Partial<Record<AnswerClass, number>>[];
  faultFigures: FaultFigures[];
  sessions: { held: number; ended: number; refreshed: number; forked: number; lost: number };
  audit: Record<string, { answered2xx: number; rows: number }>;
  failures: string[];
}

export interface SoakResults extends SoakChecks {
  date: string;
  machine: string;
  seconds: number;
  clients: number;
  faults: Fault[];
}

function classOf(answer: Answer): AnswerClass {
  if (answer.status === 0) return "no answer";
  if (answer.status === 503) return "503";
  if (answer.status >= 500) return "5xx";
  if (answer.status >= 400) return "4xx";
  return "2xx";
}

const tally = (answers: Answer[]) => {
  const counts: Partial<Record<AnswerClass, number>> = {};
  for (const answer of answers) counts[classOf(answer)] = (counts[classOf(answer)] ?? 0) + 1;
  return counts;
};

export async function checkSoak(databaseUrl: string, traffic: Traffic, faults: Fault[]): Promise<SoakChecks> {
  const { answers } = traffic;
  const failures: string[] = [];
  const last = Math.ceil(Math.max(0, ...answers.map((answer) => answer.endedMs)) / 1000);
  const perSecond = Array.from({ length: last }, (_, second) =>
    tally(answers.filter((answer) => Math.floor(answer.endedMs / 1000) === second)),
  );
  const totals = {} as SoakChecks["totals"];
  for (const operation of Object.keys(NEEDS_DATABASE) as Operation[]) {
    totals[operation] = tally(answers.filter((answer) => answer.operation === operation));
  }
  failures.push(...unexpectedAnswers(answers));
  const faultFigures = faults.map((fault) => figuresOf(fault, answers, perSecond, failures));
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    const sessions = await checkSessions(client, traffic, failures);
    const audit = await checkAudit(client, answers, failures);
    return { totals, perSecond, faultFigures, sessions, audit, failures };
  } finally {
    await client.end();
  }
}

/** Anywhere in the run: never a 5xx but 503 database_unavailable with Retry-After, never a timeout. */
function unexpectedAnswers(answers: Answer[]): string[] {
  const failures: string[] = [];
  const previous = new Map<number, Answer>();
  for (const answer of [...answers].sort((a, b) => a.startedMs - b.startedMs)) {
    const before = previous.get(answer.client);
    previous.set(answer.client, answer);
    const at = `${answer.operation} sent at ${(answer.startedMs / 1000).toFixed(1)} s`;
    if (answer.status === 0) failures.push(`${at}: no answer within ${CLIENT_TIMEOUT_MS / 1000} s`);
    else if (answer.status === 503 && (answer.code !== "database_unavailable" || !answer.retryAfter)) {
      failures.push(
        `${at}: 503 ${answer.code ?? "(no code)"}, Retry-After ${answer.retryAfter ?? "missing"}`,
      );
    } else if (answer.status >= 500 && answer.status !== 503)
      failures.push(`${at}: ${answer.status} ${answer.code}`);
    else if (answer.status >= 400 && answer.status < 500) {
      // A logout retried after a 503 that had in fact gone through finds its token revoked.
      const retriedLogout =
        answer.operation === "logout" && before?.operation === "logout" && before.status === 503;
      if (!retriedLogout) failures.push(`${at}: ${answer.status} ${answer.code}`);
    }
  }
  return failures;
}

function figuresOf(
  fault: Fault,
  answers: Answer[],
  perSecond: Partial<Record<AnswerClass, number>>[],
  failures: string[],
): FaultFigures {
  const during = answers.filter(
    (answer) => answer.startedMs >= fault.startMs && answer.startedMs < fault.endMs,
  );
  const introspections = during.filter((answer) => !NEEDS_DATABASE[answer.operation]);
  const databaseAnswers = tally(during.filter((answer) => NEEDS_DATABASE[answer.operation]));
  const introspectAnswers = tally(introspections);
  if (fault.kind === "unreachable" && introspections.some((answer) => answer.status !== 200)) {
    failures.push(`${fault.kind}: an introspection did not answer 200 while the database was unreachable`);
  }
  if (fault.kind === "unreachable" && (databaseAnswers["503"] ?? 0) === 0) {
    failures.push(`${fault.kind}: no request answered 503 while the database was unreachable`);
  }
  const ok = (second: number) => perSecond[second]?.["2xx"] ?? 0;
  const startSecond = Math.floor(fault.startMs / 1000);
  const before = Array.from({ length: 20 }, (_, i) => ok(startSecond - 20 + i));
  const levelBefore = before.reduce((sum, value) => sum + value, 0) / before.length;
  let recoverySeconds: number | null = null;
  for (let second = Math.ceil(fault.endMs / 1000); second + 3 <= perSecond.length; second++) {
    if ((ok(second) + ok(second + 1) + ok(second + 2)) / 3 >= 0.8 * levelBefore) {
      recoverySeconds = Math.max(0, second - fault.endMs / 1000);
      break;
    }
  }
  if (recoverySeconds === null)
    failures.push(`${fault.kind}: throughput never returned to 80 % of its level before`);
  const slowestMs = Math.max(0, ...during.map((answer) => answer.endedMs - answer.startedMs));
  return { ...fault, databaseAnswers, introspectAnswers, slowestMs, levelBefore, recoverySeconds };
}

const hash = (token: string) => createHash("sha256").update(token).digest("hex");

/**
 * Every session a client still holds has exactly one live refresh row, the one it holds;
 * every token a 200 handed out was stored; every session signed out has no live row.
 */
async function checkSessions(client: pg.Client, traffic: Traffic, failures: string[]) {
  const held = traffic.states.flatMap((state) => (state.session ? [state.session.refreshToken] : []));
  const ended = traffic.states.flatMap((state) => state.endedSessions);
  const received = traffic.answers.flatMap((answer) => (answer.received ? [answer.received] : []));
  const { rows } = await client.query<{ token_hash: string; live: boolean; live_in_session: number }>(
    `select r.token_hash,
        r.rotated_at is null and r.revoked_at is null and r.expires_at > now() as live,
        (select count(*)::int from refresh_tokens s where s.session_id = r.session_id
           and s.rotated_at is null and s.revoked_at is null and s.expires_at > now()) as live_in_session
       from refresh_tokens r where r.token_hash = any($1)`,
    [[...new Set([...held, ...ended, ...received])].map(hash)],
  );
  const byHash = new Map(rows.map((row) => [row.token_hash, row]));
  let lost = 0;
  let forked = 0;
  for (const token of held) {
    const row = byHash.get(hash(token));
    if (!row?.live) lost++;
    else if (row.live_in_session !== 1) forked++;
  }
  for (const token of ended) if ((byHash.get(hash(token))?.live_in_session ?? 0) > 0) forked++;
  const missing = received.filter((token) => !byHash.has(hash(token))).length;
  if (lost > 0) failures.push(`${lost} sessions lost: the refresh token their client holds is not live`);
  if (forked > 0)
    failures.push(`${forked} sessions forked: more than one live refresh row, or one left after logout`);
  if (missing > 0) failures.push(`${missing} refresh tokens answered with 200 were never stored`);
  return { held: held.length, ended: ended.length, refreshed: received.length, forked, lost };
}

const AUDITED: Partial<Record<Operation, string>> = {
  login: "login_succeeded",
  refresh: "refresh",
  logout: "logout",
};

/** No audit row missing: at least one per 2xx that writes one (a 503 may have written one too). */
async function checkAudit(client: pg.Client, answers: Answer[], failures: string[]) {
  const { rows } = await client.query<{ event: string; rows: number }>(
    "select event, count(*)::int as rows from audit where app_id = $1 group by event",
    [APP_ID],
  );
  const audit: SoakChecks["audit"] = {};
  for (const [operation, event] of Object.entries(AUDITED) as [Operation, string][]) {
    const answered2xx = answers.filter(
      (answer) => answer.operation === operation && classOf(answer) === "2xx",
    ).length;
    const stored = rows.find((row) => row.event === event)?.rows ?? 0;
    audit[event] = { answered2xx, rows: stored };
    if (stored < answered2xx)
      failures.push(`audit: ${answered2xx} ${operation} answered 2xx, ${stored} ${event} rows`);
  }
  return audit;
}

export function formatSoakReport(results: SoakResults): string {
  const lines = [
    `Turkey soak, ${results.date}`,
    results.machine,
    `${results.clients} clients for ${results.seconds} s, client timeout ${CLIENT_TIMEOUT_MS / 1000} s; answers by class`,
    "",
    ...Object.entries(results.totals).map(
      ([operation, counts]) => `${operation.padEnd(10)} ${formatCounts(counts)}`,
    ),
  ];
  for (const fault of results.faultFigures) {
    lines.push(
      "",
      `${fault.kind} from ${(fault.startMs / 1000).toFixed(1)} s to ${(fault.endMs / 1000).toFixed(1)} s: ` +
        `requests needing the database ${formatCounts(fault.databaseAnswers)}; introspect ${formatCounts(fault.introspectAnswers)}; ` +
        `slowest answer ${(fault.slowestMs / 1000).toFixed(1)} s; throughput before ${fault.levelBefore.toFixed(1)} 2xx/s, ` +
        `back to ≥ 80 % ${fault.recoverySeconds === null ? "never" : `${fault.recoverySeconds.toFixed(1)} s after the fault ended`}`,
      `  second  ${CLASSES.map((name) => name.padStart(10)).join("")}`,
    );
    const from = Math.max(0, Math.floor(fault.startMs / 1000) - 3);
    const to = Math.min(
      results.perSecond.length,
      Math.ceil(fault.endMs / 1000) + Math.ceil(fault.recoverySeconds ?? 0) + 4,
    );
    for (let second = from; second < to; second++) {
      const counts = results.perSecond[second] ?? {};
      lines.push(
        `  ${String(second).padStart(6)}  ${CLASSES.map((name) => String(counts[name] ?? 0).padStart(10)).join("")}`,
      );
    }
  }
  const { sessions } = results;
  lines.push(
    "",
    `sessions (SQL): ${sessions.held} held by clients, each with exactly one live refresh row: ` +
      `${sessions.held - sessions.lost - sessions.forked}; lost ${sessions.lost}, forked ${sessions.forked}; ` +
      `${sessions.refreshed} refresh 200s, every token stored: ${sessions.refreshed > 0 ? "checked" : "none"}; ` +
      `${sessions.ended} signed out, none live`,
    `audit (SQL): ${Object.entries(results.audit)
      .map(([event, figures]) => `${event} ${figures.rows} rows for ${figures.answered2xx} 2xx`)
      .join(", ")}`,
    results.failures.length === 0 ? "all checks passed" : `${results.failures.length} checks failed`,
  );
  return lines.join("\n");
}

function formatCounts(counts: Partial<Record<AnswerClass, number>>): string {
  const parts = CLASSES.filter((name) => counts[name]).map((name) => `${name} ${counts[name]}`);
  return parts.length > 0 ? parts.join(", ") : "none";
}
