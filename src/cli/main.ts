/**
 * gravy, Turkey's operations CLI: the command table, argument parsing and the one place that
 * turns a failure into a single line on stderr and exit code 1.
 */
import { parseArgs } from "node:util";
import { COMMON_OPTIONS, type Command, CommandContext, commandHelp, type ParsedValues } from "./command";
import { appCommands } from "./commands/app";
import { auditCommands } from "./commands/audit";
import { backupCommands } from "./commands/backup";
import { cleanupCommand } from "./commands/cleanup";
import { createTestUserCommand } from "./commands/dev";
import { factorCommands } from "./commands/factors";
import { grantsCommand } from "./commands/grants";
import { healthCommand } from "./commands/health";
import { keysCommands } from "./commands/keys";
import { migrationCommands } from "./commands/migrations";
import { oauthCommands } from "./commands/oauth";
import { userCommands } from "./commands/user";
import { withDevelopmentSecrets } from "./dev-secrets";
import { CliError, describeFailure } from "./errors";
import type { Io } from "./output";

export const COMMANDS: Command[] = [
  ...migrationCommands,
  cleanupCommand,
  healthCommand,
  ...backupCommands,
  grantsCommand,
  createTestUserCommand,
  ...appCommands,
  ...oauthCommands,
  ...factorCommands,
  ...keysCommands,
  ...auditCommands,
  ...userCommands,
];

/** Runs one command line; resolves to the process exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const found = findCommand(argv);
  if (!found) return showOverview(argv, io);
  const { command, rest } = found;
  try {
    const parsed = parse(command, rest);
    if (parsed.values.help === true) {
      io.stdout(commandHelp(command));
      return 0;
    }
    // Locally, the secrets `npm start` generated, so the CLI and the local Worker agree.
    const local = { ...io, env: withDevelopmentSecrets(io.env, io.cwd) };
    await command.run(new CommandContext(local, parsed.values, parsed.positionals));
    return 0;
  } catch (error) {
    io.stderr(`${describeFailure(error)}\n`);
    return 1;
  }
}

/** The command named by the first words: three (`app key create`) or two (`app add`). */
function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  for (const length of [3, 2]) {
    const name = argv.slice(0, length).join(" ");
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (command) return { command, rest: argv.slice(length) };
  }
  return undefined;
}

/** `gravy`, `gravy --help`, `gravy help db migrate`, `gravy db`, or an unknown command. */
function showOverview(argv: string[], io: Io): number {
  const words = argv.filter((word) => word !== "--help" && word !== "-h" && word !== "help");
  const asksHelp = words.length < argv.length;
  const [group, name] = words;
  const exact = findCommand(words)?.command;
  if (exact && asksHelp) {
    io.stdout(commandHelp(exact));
    return 0;
  }
  const inGroup = group ? COMMANDS.filter((command) => command.name.startsWith(`${group} `)) : COMMANDS;
  if (inGroup.length === 0) {
    io.stderr(`Unknown command "${group}". Run \`gravy --help\` for the list.\n`);
    return 1;
  }
  if (name !== undefined) {
    io.stderr(`Unknown command "${group} ${name}". Run \`gravy ${group} --help\` for the list.\n`);
    return 1;
  }
  if (asksHelp) {
    io.stdout(overview(inGroup));
    return 0;
  }
  const where = group ? `gravy ${group} --help` : "gravy --help";
  io.stderr(`Missing command. Run \`${where}\` for the list.\n`);
  return 1;
}

function overview(commands: Command[]): string {
  const width = Math.max(...commands.map((command) => `${command.name} ${command.arguments ?? ""}`.length));
  const lines = commands.map((command) =>
    `  ${`${command.name} ${command.arguments ?? ""}`.padEnd(width)}  ${command.summary}`.trimEnd(),
  );
  return [
    "Usage: gravy <command> [options]    (through npm: npm run gravy -- <command> [options])",
    "",
    "Commands:",
    ...lines,
    "",
    "Every command takes --help, and --json for output that scripts can read.",
    "The database is DATABASE_URL (or, outside production, the embedded database of `npm start`).",
    "",
  ].join("\n");
}

function parse(command: Command, args: string[]): { values: ParsedValues; positionals: string[] } {
  const options = { ...command.options, ...COMMON_OPTIONS };
  let parsed: { values: ParsedValues; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // node's own advice about `--` after an unknown option only confuses here.
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw new CliError(`${message} (see \`gravy ${command.name} --help\`)`);
  }
  if (parsed.values.help === true) return parsed;
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  const count = parsed.positionals.length;
  if (count < min) throw new CliError(`Missing ${command.arguments} (see \`gravy ${command.name} --help\`)`);
  if (count > max) {
    throw new CliError(
      `Unexpected argument "${parsed.positionals[max]}" (see \`gravy ${command.name} --help\`)`,
    );
  }
  return parsed;
}
