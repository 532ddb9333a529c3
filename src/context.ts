/**
 * The one place that reads the Worker's bindings and builds a request's dependencies.
 * Tests swap parts (clock, query counter) through AppOptions instead of patching globals.
 */
import type { AppKey } from "./admin/app-keys";
import type { App } from "./apps/registry";
import type { AccessClaims } from "./auth/access-tokens";
import { type Config, parseConfig } from "./config";
import { type Database, type DatabaseHandle, type DatabaseSource, openWorkerDatabase } from "./db";
import { describeError, log } from "./log";

/** The Worker's bindings: generated `Env` plus the secrets, which `wrangler types` cannot see. */
export type Bindings = Env & DatabaseSource & Record<string, unknown>;

export type Clock = () => Date;

export interface AppOptions {
  clock?: Clock;
  /** Called for each SQL statement, to count round trips. */
  onQuery?: (sql: string, params: unknown[]) => void;
}

export interface Deps {
  config: Config;
  clock: Clock;
  /** Opened on first use, closed when the response and its deferred work are done. */
  readonly db: Database;
  /** Runs work after the response (mail, per-account work the answer must not wait for). */
  defer(task: () => Promise<void>): void;
  /** Waits for deferred work, then ends the request's database connection, if one was opened. */
  close(): Promise<void>;
}

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    deps: Deps;
    /** The calling app, set for every /v1 route. */
    app: App;
    /** The verified access token, set on bearer routes. */
    claims: AccessClaims;
    /** The app key that authenticated, set on app-backend routes (/v1/admin). */
    appKey: AppKey;
  };
};

// Parsed once per set of bindings; a bad configuration fails every request the same way.
const configs = new WeakMap<object, Config>();

export function configFor(env: Bindings): Config {
  let config = configs.get(env);
  if (!config) {
    // A deployed Worker with no NODE_ENV is production; development is what `npm start` and
    // the tests set explicitly.
    config = parseConfig({ ...env, NODE_ENV: env.NODE_ENV ?? "production" });
    configs.set(env, config);
  }
  return config;
}

export function createDeps(env: Bindings, options: AppOptions): Deps {
  const config = configFor(env);
  let handle: DatabaseHandle | undefined;
  const deferred = new Set<Promise<void>>();
  return {
    config,
    clock: options.clock ?? (() => new Date()),
    get db() {
      handle ??= openWorkerDatabase(env, { onQuery: options.onQuery });
      return handle.db;
    },
    defer: (task) => {
      const running = task()
        .catch((error: unknown) => log.error("deferred work failed", describeError(error)))
        .finally(() => deferred.delete(running));
      deferred.add(running);
    },
    close: async () => {
      // Deferred work may defer more (a mail after a lookup): wait until none is left.
      while (deferred.size > 0) await Promise.all(deferred);
      await handle?.close();
    },
  };
}
