/** What every account and session operation needs, as plain values (no HTTP types). */
import type { App } from "../apps/registry";
import type { Client } from "../audit";
import type { Config } from "../config";
import type { Database } from "../db";
import type { Outbox } from "../email/outbox";
import type { AttemptGuard } from "../rate-limit";
import type { SigningKey } from "./access-tokens";
import { loadStoredKeys } from "./key-store";
import type { UserView } from "./users";

export interface AuthContext {
  db: Database;
  config: Config;
  kv: KVNamespace;
  app: App;
  client: Client;
  now: Date;
  /** Password attempts against one account (email) from this client's network; absent in the CLI. */
  attempts?: (email: string) => AttemptGuard;
  /** Forgets every failed attempt against an account, from every network (after a reset). */
  clearAttempts?: (email: string) => Promise<void>;
  /** Takes emails to send after the response; absent where none are sent (CLI). */
  outbox?: Outbox;
  /**
   * The Worker's own origin as this request reached it (scheme and host); links to hosted
   * pages point there. Absent where no request is served (CLI).
   */
  origin?: string;
}

/** What issuing a token pair needs. No KV: Node tools (the CLI) issue tokens too. */
export type IssueContext = Pick<AuthContext, "config" | "app" | "client" | "now"> &
  Partial<Pick<AuthContext, "db">>;

export interface TokenResponse {
  user: UserView;
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  refreshExpiresIn: number;
}

/**
 * The keys tokens are signed and verified with. With a database (opened only when the isolate's
 * cached keys are stale), stored keys count too; without one, only the configured key.
 */
export function signingKey(config: Config, db?: () => Database): SigningKey {
  return {
    secret: config.jwtSecret,
    issuer: config.jwtIssuer,
    privateJwk: config.jwtPrivateKey,
    load: db && (() => loadStoredKeys(db())),
    encryption: config.encryptionKeys,
    accessTtlSeconds: config.accessTtlSeconds,
  };
}

/** A database already open, as signingKey takes it. */
export function withDatabase(db: Database | undefined): (() => Database) | undefined {
  return db && (() => db);
}
