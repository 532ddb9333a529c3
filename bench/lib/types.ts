/** Names and shapes shared by the bench runner (Node) and the counting run (workerd). */

export const SCENARIO_NAMES = [
  "ceiling",
  "health",
  "introspect-valid",
  "introspect-revoked",
  "me",
  "refresh",
  "login",
  "register",
  // The same two against a Turkey configured with PASSWORD_HASH=scrypt.
  "login-scrypt",
  "register-scrypt",
] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Every scenario but the ceiling runs Turkey's code, so its round trips can be counted. */
export type CountedScenario = Exclude<ScenarioName, "ceiling">;

export interface OperationCount {
  name: CountedScenario;
  sql: number;
  kvReads: number;
}

/** The Argon2 instance's linear memory after concurrent logins, read inside the isolate. */
export interface WasmReading {
  logins: number;
  bytes: number;
}

/** One statement the app sent, with its EXPLAIN: JSON (to check) and text (to print). */
export interface PlannedStatement {
  sql: string;
  plan: unknown;
  text: string;
}
