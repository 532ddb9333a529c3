/** `gravy db grants [--role turkey_app] [--password P] [--apply]`. */
import type { Command, CommandContext } from "../command";
import { type DatabaseTarget, databaseName, databaseTarget, inTransaction, withDatabase } from "../database";
import {
  checkRoleName,
  type GrantRequest,
  generatePassword,
  grantStatements,
  renderGrantScript,
  scramVerifier,
} from "../grants";
import { writeJson, writeLines } from "../output";

export const grantsCommand: Command = {
  name: "db grants",
  summary: "Print (or --apply) the SQL that creates the app's least-privilege role.",
  details: [
    "The role may read and write rows in the database of DATABASE_URL, and read the migration record;",
    "it cannot change the schema, so run `gravy db migrate` as the owner. Without --password a",
    "password is generated and shown once. The SQL carries only a SCRAM-SHA-256 verifier of it.",
  ].join("\n"),
  options: {
    role: { type: "string", valueName: "name", description: "role to create or update (default turkey_app)" },
    password: { type: "string", valueName: "password", description: "its password (default: generate one)" },
    apply: { type: "boolean", description: "run the SQL now instead of printing it" },
  },
  async run(ctx) {
    const target = databaseTarget(ctx.io.env);
    const role = checkRoleName(ctx.string("role") ?? "turkey_app");
    const given = ctx.string("password");
    const generated = given === undefined ? generatePassword() : undefined;
    const verifier = scramVerifier(given ?? generated ?? "");
    const request: GrantRequest = { role, database: databaseName(target.url), verifier };
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
  const { role, database } = request;
  if (ctx.json) {
    const shown = generated === undefined ? {} : { generatedPassword: generated };
    return writeJson(ctx.io, { role, database, applied: statements.length, ...shown });
  }
  writeLines(ctx.io, `Role ${role} can now read and write rows in ${target.description.label}.`);
  if (generated)
    writeLines(ctx.io, `Generated password for ${role} (shown once, store it now): ${generated}`);
}
