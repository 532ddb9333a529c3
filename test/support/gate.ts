/**
 * A barrier inside Postgres for race tests: triggers make a gated user's session writes — an
 * INSERT into refresh_tokens, or the `login_succeeded` audit row a login writes with its
 * session, or the `email_changed` row a change of address writes before it commits — wait on
 * an advisory lock the test holds. Requests then stop exactly where they
 * would create a session (after verifying a password, after spending a refresh token), the
 * test lets a competing request run, and opens the gate — no sleeps.
 */
import pg from "pg";
import { bindings } from "./worker";

const LOCK_CLASS = 4242;

// In a schema of its own, so the application's schema (which tests inspect) stays as migrated.
// Installed once per database, under a lock: test files run in parallel, and DDL on the tables
// while another file's requests hold their rows would deadlock.
const INSTALL = `
  begin;
  select pg_advisory_xact_lock(${LOCK_CLASS + 1}, 0);
  create schema if not exists test_gate;
  create table if not exists test_gate.gated_users (user_id uuid primary key, lock_key int not null);
  do $install$ begin
    if not exists (select 1 from pg_trigger where tgname = 'test_gate') then
      create function test_gate.hold() returns trigger language plpgsql as $$
      declare key int;
      begin
        select lock_key into key from test_gate.gated_users where user_id = new.user_id;
        if key is not null then
          perform pg_advisory_xact_lock_shared(${LOCK_CLASS}, key);
        end if;
        return new;
      end $$;
      create trigger test_gate before insert on refresh_tokens for each row execute function test_gate.hold();
      create trigger test_gate before insert on audit for each row
        when (new.event in ('login_succeeded', 'email_changed')) execute function test_gate.hold();
    end if;
  end $install$;
  commit;`;

export interface Gate {
  /** Resolves once `count` requests are stopped: at the gate, or waiting behind one that is. */
  held(count: number): Promise<void>;
  /**
   * Starts a competing request and resolves (with its pending answer) once it has either
   * answered or is waiting for a lock a held request owns: old code may not wait at all,
   * fixed code must, and either way the test can then open the gate.
   */
  compete<T>(request: () => Promise<T>): Promise<{ answer: Promise<T> }>;
  open(): Promise<void>;
}

/** Closes every request of `userId` that would insert a refresh row, until `open()`. */
export async function closeGate(userId: string): Promise<Gate> {
  const connection = new pg.Client({ connectionString: connectionString() });
  connection.on("error", () => {});
  await connection.connect();
  await connection.query(INSTALL);
  const key = Math.floor(Math.random() * 2 ** 30);
  await connection.query("insert into test_gate.gated_users (user_id, lock_key) values ($1, $2)", [
    userId,
    key,
  ]);
  await connection.query("select pg_advisory_lock($1, $2)", [LOCK_CLASS, key]);

  const atGate = `select pid from pg_locks
    where locktype = 'advisory' and classid = $1 and objid = $2 and not granted`;
  // Everything waiting, directly or through other waiters, on a request held at the gate.
  const behindGate = `with recursive stopped(pid) as (
      ${atGate}
      union select a.pid from pg_stat_activity a join stopped s on s.pid = any(pg_blocking_pids(a.pid))
    ) select pid from stopped where pid not in (${atGate})`;
  const count = async (query: string) => {
    const result = await connection.query<{ n: number }>(`select count(*)::int as n from (${query}) q`, [
      LOCK_CLASS,
      key,
    ]);
    return result.rows[0]?.n ?? 0;
  };
  const until = async (query: string, wanted: number, done = () => false) => {
    // Polls a condition (not a fixed delay): the requests are in flight, Postgres says when.
    for (let attempt = 0; attempt < 1200; attempt++) {
      if (done() || (await count(query)) >= wanted) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`the gate never saw ${wanted} requests`);
  };
  return {
    held: (wanted) => until(`(${atGate}) union (${behindGate})`, wanted),
    compete: async (request) => {
      const before = await count(behindGate);
      let settled = false;
      const response = request();
      const mark = () => {
        settled = true;
      };
      response.then(mark, mark);
      await until(behindGate, before + 1, () => settled);
      return { answer: response };
    },
    open: async () => {
      await connection.query("select pg_advisory_unlock($1, $2)", [LOCK_CLASS, key]);
      await connection.query("delete from test_gate.gated_users where user_id = $1", [userId]);
      await connection.end();
    },
  };
}

/**
 * The race every test of this kind runs: `inFlight` is started and held at the gate until
 * `held` requests are stopped there, then `competitor` runs (or queues behind them), then the
 * gate opens. Returns both answers.
 */
export async function race<A, B>(
  userId: string,
  held: number,
  inFlight: () => Promise<A>,
  competitor: () => Promise<B>,
): Promise<[A, B]> {
  const gate = await closeGate(userId);
  let first: Promise<A> | undefined;
  let second: Promise<B> | undefined;
  try {
    first = inFlight();
    await gate.held(held);
    second = (await gate.compete(competitor)).answer;
  } finally {
    await gate.open();
  }
  if (!first || !second) throw new Error("the race did not start");
  return [await first, await second];
}

function connectionString(): string {
  const hyperdrive = bindings.HYPERDRIVE as Hyperdrive | undefined;
  if (!hyperdrive) throw new Error("the race tests need the HYPERDRIVE binding");
  return hyperdrive.connectionString;
}
