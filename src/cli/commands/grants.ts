/**
 * `gravy db grants [--role turkey_app] [--password P] [--valid-until D] [--apply]` and
 * `gravy db grants --rotate-password [--valid-until D] [--hyperdrive-id ID]`.
 */
import type { Command, CommandContext } from "../command";
import { type DatabaseTarget, databaseName, databaseTarget, inTransaction, withDatabase } from "../database";
import { CliError } from "../errors";
import {
  checkRoleName,
  type GrantRequest,
  generatePassword,
  grantStatements,
  parseValidUntil,
  passwordStatement,
  renderGrantScript,
  scramVerifier,
} from "../grants";
import { formatDate, writeJson, writeLines } from "../output";

export const grantsCommand: Command = {
  name: "db grants",
  summary: "Print (or --apply) the SQL that creates the app's least-privilege role, or rotate its password.",
  details: [
    "The role may read and write rows in the database of DATABASE_URL, and read the migration record;",
    "it cannot change the schema, so run `gravy db migrate` as the owner. Without --password a",
    "password is generated and shown once. The SQL carries only a SCRAM-SHA-256 verifier of it.",
    "Without --valid-until the password does not expire.",
    "",
    "--rotate-password gives the existing role a new random password at once and prints it only inside",
    "the `wrangler hyperdrive update` command that hands it to the Worker: run that command right away,",
    "since new connections with the old password fail from now on.",
  ].join("\n"),
  options: {
    role: { type: "string", valueName: "name", description: "role to create or update (default turkey_app)" },
    password: { type: "string", valueName: "password", description: "its password (default: generate one)" },
    "valid-until": {
      type: "string",
      valueName: "date",
      description: "the password stops working then, e.g. 2027-01-01 (UTC; default: never)",
    },
    apply: { type: "boolean", description: "run the SQL now instead of printing it" },
    "rotate-password": {
      type: "boolean",
      description: "set a new random password for the existing role, and print how to give it to Hyperdrive",
    },
    "hyperdrive-id": {
      type: "string",
      valueName: "id",
      description: "the Hyperdrive configuration to name in that command (default: a placeholder)",
    },
  },
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    const role = checkRoleName(ctx.string("role") ?? "turkey_app");
    const until = ctx.string("valid-until");
    const validUntil = until === undefined ? undefined : parseValidUntil(until, new Date());
    if (ctx.flag("rotate-password")) return rotatePassword(ctx, target, role, validUntil);
    const given = ctx.string("password");
    const generated = given === undefined ? generatePassword() : undefined;
    const verifier = scramVerifier(given ?? generated ?? "");
    const request: GrantRequest = { role, database: databaseName(target.url), verifier, validUntil };
    if (ctx.flag("apply")) await applyGrants(ctx, target, request, generated);
    else printGrants(ctx, request, generated);
  },
};

function printGrants(ctx: CommandContext, request: GrantRequest, generated: string | undefined): void {
  if (ctx.json) {
    const shown = generated === undefined ? {} : { generatedPassword: generated };
    writeJson(ctx.io, { ...request, statements: grantStatements(request), ...shown });
    return;
  }
  ctx.io.stdout(renderGrantScript(request));
  // On stderr, so `gravy db grants > grants.sql` leaves the secret out of the file.
  if (generated) ctx.io.stderr(`-- Generated password for ${request.role} (shown once): ${generated}\n`);
}

async function applyGrants(
  ctx: CommandContext,
  target: DatabaseTarget,
  request: GrantRequest,
  generated: string | undefined,
): Promise<void> {
  const statements = grantStatements(request);
  await withDatabase(target, (handle) =>
    inTransaction(handle.pool, async (client) => {
      for (const statement of statements) await client.query(statement);
    }),
  );
  const { role, database, validUntil } = request;
  if (ctx.json) {
    const shown = generated === undefined ? {} : { generatedPassword: generated };
    return writeJson(ctx.io, { role, database, applied: statements.length, validUntil, ...shown });
  }
  writeLines(ctx.io, `Role ${role} can now read and write rows in ${target.description.label}.`);
  if (validUntil) writeLines(ctx.io, `Its password is valid until ${formatDate(validUntil)}.`);
  if (generated)
    writeLines(ctx.io, `Generated password for ${role} (shown once, store it now): ${generated}`);
}

/** A new password for a role that exists, handed over only inside the command that uses it. */
async function rotatePassword(
  ctx: CommandContext,
  target: DatabaseTarget,
  role: string,
  validUntil: Date | undefined,
): Promise<void> {
  if (ctx.string("password") !== undefined || ctx.flag("apply")) {
    throw new CliError(
      "--rotate-password generates the password and applies it: leave out --password and --apply",
    );
  }
  const password = generatePassword();
  const statement = passwordStatement({ role, verifier: scramVerifier(password), validUntil });
  await withDatabase(target, async (handle) => {
    const found = await handle.pool.query("select 1 from pg_roles where rolname = $1", [role]);
    if (found.rowCount === 0) {
      throw new CliError(
        `Role ${role} does not exist on ${target.description.label}: create it with \`gravy db grants --apply\``,
      );
    }
    await handle.pool.query(statement);
  });
  const id = ctx.string("hyperdrive-id") ?? "<hyperdrive-id>";
  const command = `npx wrangler hyperdrive update ${id} --origin-password=${password}`;
  if (ctx.json) return writeJson(ctx.io, { role, rotated: true, validUntil, hyperdriveUpdate: command });
  const until = validUntil ? `valid until ${formatDate(validUntil)}` : "no expiry";
  writeLines(
    ctx.io,
    `New password set for ${role} on ${target.description.label} (${until}).`,
    "Connections already open keep working; new ones need the new password. Give it to Hyperdrive now",
    "(the password appears only here; the id is the [[hyperdrive]] id in wrangler.toml):",
    "",
    `  ${command}`,
  );
}
