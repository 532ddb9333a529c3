/**
 * The `gravy` process (`npm run gravy -- <command>`). Reads the variables like `npm start`
 * does: `.dev.vars`, then the shell, later wins, empty means unset.
 */

import { Console } from "node:console";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { parseEnv } from "node:util";
import { main } from "./main";
import { shortenWarnings } from "./output";

function loadVariables(): Record<string, string> {
  const vars: Record<string, string> = {};
  if (existsSync(".dev.vars")) Object.assign(vars, parseEnv(readFileSync(".dev.vars", "utf8")));
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) vars[key] = value;
  for (const [key, value] of Object.entries(vars)) if (value === "") delete vars[key];
  return vars;
}

// Shared modules log structured lines through console (the cleanup's "Cleanup job completed").
// They are diagnostics: on stderr, stdout carries only the command's result (parseable with --json).
globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });
shortenWarnings();

/** A question on stderr (stdout carries only results), answered on the terminal. */
async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

const code = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: loadVariables(),
  cwd: process.cwd(),
  ...(process.stdin.isTTY ? { confirm } : {}),
});
process.exitCode = code;
