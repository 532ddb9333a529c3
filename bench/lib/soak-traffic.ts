/**
 * The soak's traffic: a few closed loops acting for many signed-in sessions of a few
 * accounts — refresh, ask who they are, have their access token introspected, now and then
 * sign out (and back in). Each session keeps what a real client keeps (its current tokens),
 * retries what answered 503 after Retry-After, and every answer is recorded with its timing
 * for the checks that follow.
 */
import { insertSessions, jsonHeaders, PASSWORD } from "./fixtures";
import { delay } from "./processes";

export type Operation = "login" | "refresh" | "me" | "introspect" | "logout";

/** Every operation but introspect reads or writes Postgres; introspect checks KV only. */
export const NEEDS_DATABASE: Record<Operation, boolean> = {
  login: true,
  refresh: true,
  me: true,
  introspect: false,
  logout: true,
};

export interface Answer {
  operation: Operation;
  /** The session state that sent it; -1 for the steady introspection of an app backend. */
  client: number;
  /** Milliseconds since the soak started. */
  startedMs: number;
  endedMs: number;
  /** 0 when the client gave up (timeout) or the connection failed. */
  status: number;
  code?: string;
  retryAfter?: string;
  /** A refresh that answered 200: the token spent and the one received. */
  spent?: string;
  received?: string;
}

export const CLIENT_TIMEOUT_MS = 15_000;

export interface Session {
  /** Absent until the first refresh of a session written in SQL. */
  accessToken?: string;
  refreshToken: string;
}

/** One signed-in device of an account: the unit a loop picks, acts for, and puts back. */
export interface SessionState {
  id: number;
  email: string;
  session: Session | undefined;
  /** What answered 503 last time: a client tries the same request again. */
  retry?: Operation;
  /** Logouts that answered 204: their sessions must have no live refresh row left. */
  endedSessions: string[];
}

export interface Traffic {
  answers: Answer[];
  states: SessionState[];
}

const ACCOUNTS = 8;
/**
 * A session refreshes at most 60 times in 15 minutes; the soak refreshes each of its
 * sessions far more often than a real client (every 15 minutes), so it spreads its load
 * over many sessions per account, written in SQL (see insertSessions).
 */
const SESSIONS_PER_ACCOUNT = 30;
const INTROSPECT_EVERY_MS = 200;

/** Runs `loops` closed loops until `until` settles; accounts and sessions are made first. */
export async function runTraffic(
  baseUrl: string,
  databaseUrl: string,
  loops: number,
  origin: number,
  until: Promise<unknown>,
): Promise<Traffic> {
  const states: SessionState[] = [];
  for (let account = 0; account < ACCOUNTS; account++) {
    const email = `soak-${Date.now().toString(36)}-${account}@example.com`;
    const registered = await register(baseUrl, email);
    const others = await insertSessions(databaseUrl, email, SESSIONS_PER_ACCOUNT - 1);
    for (const refreshToken of [registered.refreshToken, ...others]) {
      states.push({ id: states.length, email, session: { refreshToken }, endedSessions: [] });
    }
  }
  let running = true;
  void until.finally(() => {
    running = false;
  });
  const idle = [...states].sort(() => Math.random() - 0.5);
  const answers: Answer[] = [];
  // An app backend checking tokens at a steady pace, whatever the sessions' loops wait for.
  const checking = (async () => {
    while (running) {
      const token = idle.find((state) => state.session?.accessToken)?.session?.accessToken;
      if (token) answers.push((await send(baseUrl, "introspect", -1, origin, { token })).record);
      await delay(INTROSPECT_EVERY_MS);
    }
  })();
  await Promise.all([
    checking,
    ...Array.from({ length: loops }, async () => {
      while (running) {
        const state = idle.shift();
        if (!state) throw new Error("more loops than sessions");
        const answer = await step(baseUrl, state, origin);
        answers.push(answer);
        state.retry = answer.status === 503 ? answer.operation : undefined;
        idle.push(state);
        if (answer.status === 503) await delay(Number(answer.retryAfter ?? 1) * 1000);
      }
    }),
  ]);
  return { answers, states };
}

async function register(baseUrl: string, email: string): Promise<Session> {
  const response = await fetch(`${baseUrl}/v1/auth/register`, {
    method: "POST",
    headers: jsonHeaders(),
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (!response.ok) throw new Error(`set-up: register answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Session;
}

/** Sign in without a session, refresh without an access token, retry a 503; else mostly reads. */
function nextOperation(state: SessionState): Operation {
  if (state.retry) return state.retry;
  if (!state.session) return "login";
  if (!state.session.accessToken) return "refresh";
  const roll = Math.random();
  if (roll < 0.4) return "refresh";
  if (roll < 0.65) return "me";
  if (roll < 0.95) return "introspect";
  return "logout";
}

async function step(baseUrl: string, state: SessionState, origin: number): Promise<Answer> {
  const operation = nextOperation(state);
  const session = state.session;
  const request = (body: unknown, token?: string) => send(baseUrl, operation, state.id, origin, body, token);
  if (operation === "login" || !session) {
    const answer = await request({ email: state.email, password: PASSWORD });
    if (answer.status === 200) state.session = answer.body as Session;
    return answer.record;
  }
  if (operation === "refresh") {
    const answer = await request({ refreshToken: session.refreshToken });
    if (answer.status !== 200) return answer.record;
    state.session = answer.body as Session;
    return { ...answer.record, spent: session.refreshToken, received: state.session.refreshToken };
  }
  if (operation === "me") return (await request(undefined, session.accessToken)).record;
  if (operation === "introspect") return (await request({ token: session.accessToken })).record;
  const answer = await request({}, session.accessToken);
  // 401: an earlier logout that answered 503 had gone through; either way the session is over.
  if (answer.status === 204 || answer.status === 401) {
    if (answer.status === 204) state.endedSessions.push(session.refreshToken);
    state.session = undefined;
  }
  return answer.record;
}

const PATHS: Record<Operation, string> = {
  login: "/v1/auth/login",
  refresh: "/v1/auth/refresh",
  me: "/v1/auth/me",
  introspect: "/v1/auth/introspect",
  logout: "/v1/auth/logout",
};

async function send(
  baseUrl: string,
  operation: Operation,
  client: number,
  origin: number,
  body: unknown,
  token?: string,
): Promise<{ status: number; body?: unknown; record: Answer }> {
  const startedMs = performance.now() - origin;
  const init: RequestInit = { headers: jsonHeaders(token), signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) };
  if (body !== undefined) Object.assign(init, { method: "POST", body: JSON.stringify(body) });
  const record: Answer = { operation, client, startedMs, endedMs: 0, status: 0 };
  try {
    const response = await fetch(`${baseUrl}${PATHS[operation]}`, init);
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    record.status = response.status;
    record.code = response.ok
      ? undefined
      : (parsed as { error?: { code?: string } } | undefined)?.error?.code;
    record.retryAfter = response.headers.get("retry-after") ?? undefined;
    record.endedMs = performance.now() - origin;
    return { status: response.status, body: parsed, record };
  } catch {
    record.endedMs = performance.now() - origin;
    return { status: 0, record };
  }
}
