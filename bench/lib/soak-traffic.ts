/**
 * The soak's traffic: virtual clients, each with one account, that sign in, refresh, ask
 * who they are, have their access token introspected, and now and then sign out (and back
 * in). Each keeps what a real client keeps — its current tokens — obeys Retry-After after a
 * 503, and every answer is recorded with its timing, for the checks that follow.
 */
import { jsonHeaders, PASSWORD } from "./fixtures";
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

interface Session {
  accessToken: string;
  refreshToken: string;
}

export interface ClientState {
  email: string;
  session: Session | undefined;
  /** Logouts that answered 204: their sessions must have no live refresh row left. */
  endedSessions: string[];
}

export interface Traffic {
  answers: Answer[];
  clients: ClientState[];
}

/** Runs `clients` loops until `until` settles; accounts are made first, outside the timing. */
export async function runTraffic(
  baseUrl: string,
  clients: number,
  origin: number,
  until: Promise<unknown>,
): Promise<Traffic> {
  const states: ClientState[] = [];
  for (let i = 0; i < clients; i++) {
    const email = `soak-${Date.now().toString(36)}-${i}@example.com`;
    const response = await fetch(`${baseUrl}/v1/auth/register`, {
      method: "POST",
      headers: jsonHeaders(),
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    if (response.status !== 201 && response.status !== 200) {
      throw new Error(`set-up: register answered ${response.status}: ${await response.text()}`);
    }
    const body = (await response.json()) as Session;
    states.push({
      email,
      session: { accessToken: body.accessToken, refreshToken: body.refreshToken },
      endedSessions: [],
    });
  }
  let running = true;
  void until.finally(() => {
    running = false;
  });
  const answers: Answer[] = [];
  await Promise.all(
    states.map(async (state, client) => {
      while (running) {
        const answer = await step(baseUrl, state, client, origin);
        answers.push(answer);
        if (answer.status === 503) await delay(Number(answer.retryAfter ?? 1) * 1000);
      }
    }),
  );
  return { answers, clients: states };
}

/** The client's next request: sign in if it has no session, else mostly refresh and reads. */
async function step(baseUrl: string, state: ClientState, client: number, origin: number): Promise<Answer> {
  const session = state.session;
  if (!session) {
    const answer = await send(baseUrl, "login", client, origin, { email: state.email, password: PASSWORD });
    if (answer.status === 200 && answer.body) state.session = answer.body as Session;
    return answer.record;
  }
  const roll = Math.random();
  if (roll < 0.4) {
    const answer = await send(baseUrl, "refresh", client, origin, { refreshToken: session.refreshToken });
    if (answer.status === 200 && answer.body) {
      const next = answer.body as Session;
      state.session = next;
      return { ...answer.record, spent: session.refreshToken, received: next.refreshToken };
    }
    return answer.record;
  }
  if (roll < 0.65) return (await send(baseUrl, "me", client, origin, undefined, session.accessToken)).record;
  if (roll < 0.95) {
    return (await send(baseUrl, "introspect", client, origin, { token: session.accessToken })).record;
  }
  const answer = await send(baseUrl, "logout", client, origin, {}, session.accessToken);
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
