/**
 * The shape of a gravy command: its options (for node:util parseArgs and for its help text),
 * how many positionals it takes, and what it does. Values reach `run` through typed getters,
 * so no command handles raw parse results.
 */
import { CliError } from "./errors";
import type { Io } from "./output";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  description: string;
  /** Shown in help as `--dir <valueName>`. */
  valueName?: string;
}

export interface Command {
  /** Words that select it, e.g. `db backup`. */
  name: string;
  summary: string;
  /** Positional part of the usage line, e.g. `<appId>`. */
  arguments?: string;
  /** Further help paragraphs. */
  details?: string;
  options?: Record<string, OptionSpec>;
  positionals?: { min: number; max: number };
  run(ctx: CommandContext): Promise<void>;
}

export type ParsedValues = Record<string, string | boolean | undefined>;

export class CommandContext {
  constructor(
    readonly io: Io,
    private readonly values: ParsedValues,
    readonly positionals: string[],
  ) {}

  get json(): boolean {
    return this.values.json === true;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === "string" ? value : undefined;
  }

  /** A whole number option, checked here so a typo never reaches the database. */
  integer(name: string, fallback: number, min: number, max: number): number {
    const text = this.string(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
      throw new CliError(`--${name} must be a whole number from ${min} to ${max}`);
    }
    return value;
  }

  positional(index: number): string {
    const value = this.positionals[index];
    if (value === undefined) throw new CliError(`Missing argument ${index + 1}`);
    return value;
  }
}

/** Options every command takes. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "print the result as JSON (for scripts)" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

/** The help text of one command. */
export function commandHelp(command: Command): string {
  const options = { ...command.options, ...COMMON_OPTIONS };
  const usage = [`gravy ${command.name}`, command.arguments, "[options]"].filter(Boolean).join(" ");
  const rows = Object.entries(options).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "";
    const value = spec.type === "string" ? ` <${spec.valueName ?? "value"}>` : "";
    return [`  ${short}--${name}${value}`, spec.description] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length));
  const lines = [`Usage: ${usage}`, "", command.summary];
  if (command.details) lines.push("", command.details);
  lines.push("", "Options:", ...rows.map(([left, text]) => `${left.padEnd(width)}  ${text}`));
  return `${lines.join("\n")}\n`;
}
