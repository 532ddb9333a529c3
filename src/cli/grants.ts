/**
 * The least-privilege role of the operations guide: the app's role may read and write rows,
 * nothing more (no DDL, no other databases), and only add to the audit. The password is sent as a SCRAM-SHA-256 verifier
 * computed here, as psql's \password does, so neither the printed SQL nor the server's
 * statement log ever contains it.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { CliError } from "./errors";

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const SCRAM_ITERATIONS = 4096;

export function checkRoleName(role: string): string {
  if (!ROLE_NAME.test(role)) {
    throw new CliError("--role must be a lower-case identifier (letters, digits, _; at most 63 characters)");
  }
  return role;
}

/** 192 random bits, URL- and shell-safe. */
export function generatePassword(): string {
  return randomBytes(24).toString("base64url");
}

/** The verifier Postgres stores for SCRAM-SHA-256 (RFC 5802 / RFC 7677). */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  // Postgres applies SASLprep, whose core is NFKC; ASCII passwords are unchanged by it.
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, SCRAM_ITERATIONS, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  const b64 = (bytes: Buffer) => bytes.toString("base64");
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

export interface GrantRequest {
  role: string;
  database: string;
  /** From scramVerifier: the role's password in the only form that leaves this process. */
  verifier: string;
  /** When the password stops working (the guide's VALID UNTIL); never, when absent. */
  validUntil?: Date | undefined;
}

/** `2027-01-01`, or an ISO timestamp with its zone: `2027-01-01T09:00:00Z`, `…+02:00`. */
const VALID_UNTIL = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * `--valid-until`: in the future (a past date would lock the app out at once), and a day that
 * exists (JavaScript would roll 2027-02-30 over into March). Sent to the server in UTC, so the
 * session's time zone cannot shift it.
 */
export function parseValidUntil(text: string, now: Date): Date {
  const match = VALID_UNTIL.exec(text.trim());
  const day = match?.[1] ?? "";
  const date = new Date(match ? text.trim() : Number.NaN);
  const midnight = Date.parse(`${day}T00:00:00Z`);
  const dayExists = !Number.isNaN(midnight) && new Date(midnight).toISOString().startsWith(day);
  if (Number.isNaN(date.getTime()) || !dayExists) {
    throw new CliError("--valid-until must be a date such as 2027-01-01 (or an ISO timestamp with its zone)");
  }
  if (date.getTime() <= now.getTime()) {
    throw new CliError("--valid-until must be in the future: the role could not log in at all");
  }
  return date;
}

/** The ALTER ROLE that sets a password (as a verifier) and how long it stays valid. */
export function passwordStatement({ role, verifier, validUntil }: Omit<GrantRequest, "database">): string {
  const until = validUntil ? validUntil.toISOString() : "infinity";
  return `ALTER ROLE ${quoteIdentifier(checkRoleName(role))} WITH PASSWORD ${quoteLiteral(verifier)} VALID UNTIL ${quoteLiteral(until)}`;
}

/**
 * Run as the role that runs `gravy db migrate` (the tables' owner): default privileges apply
 * to tables that this role creates later.
 */
export function grantStatements(request: GrantRequest): string[] {
  const r = quoteIdentifier(checkRoleName(request.role));
  const db = quoteIdentifier(request.database);
  const elevated = "rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls";
  return [
    `DO $$ BEGIN CREATE ROLE ${r} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    // Only a role that has more than it should is altered: a table owner with CREATEROLE (no
    // superuser) may not touch these attributes on PostgreSQL 16+, and needs not to.
    `DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = ${quoteLiteral(request.role)} AND (${elevated})) THEN
  ALTER ROLE ${r} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
END IF; END $$`,
    `ALTER ROLE ${r} WITH LOGIN`,
    passwordStatement(request),
    `GRANT CONNECT ON DATABASE ${db} TO ${r}`,
    // The default since PostgreSQL 15; older servers let every role create tables in public.
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    `GRANT USAGE ON SCHEMA public TO ${r}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${r}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r}`,
    // The audit is append-only for the app: its cron seals and expires it only through the
    // SECURITY DEFINER functions of the migrations (src/audit). On a database not migrated
    // yet, the migration that adds the chain revokes these itself.
    `DO $$ BEGIN IF to_regclass('public.audit_chains') IS NOT NULL THEN
  REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM ${r};
  REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_chains FROM ${r};
END IF; END $$`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${r}`,
    // Read-only access to the migration record (schema drizzle, made by the first migrate), so
    // `gravy db status` and `db health` work as this role. Nothing is created here: a database
    // that is still empty can take a restore afterwards.
    `DO $$ BEGIN IF to_regnamespace('drizzle') IS NOT NULL THEN
  GRANT USAGE ON SCHEMA drizzle TO ${r};
  GRANT SELECT ON ALL TABLES IN SCHEMA drizzle TO ${r};
END IF; END $$`,
    `ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO ${r}`,
    `ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO ${r}`,
  ];
}

export function renderGrantScript(request: GrantRequest): string {
  const header = [
    `-- Least-privilege role ${request.role} for database ${request.database}.`,
    "-- Run as the role that runs `gravy db migrate`, connected to that database.",
  ];
  return `${[...header, ...grantStatements(request).map((statement) => `${statement};`)].join("\n")}\n`;
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
