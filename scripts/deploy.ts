/**
 * `npm run deploy [-- --preflight-only] [-- <wrangler deploy options>]`: the preflight first
 * (offline; refuses with the full list of what is wrong), then a reminder of the two things only
 * Cloudflare can confirm, then `wrangler deploy`. `--config` and `--env` choose what is checked
 * and are passed on, like every other option.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { checkDeploy, type DeployConfig, readDocumentedSecrets } from "../src/cli/deploy-preflight";
import { PROJECT_DIR, wranglerScript } from "../src/cli/local-worker";
import { buildDocsAssets } from "./docs-assets";

const DEPLOY_DOC = path.join(PROJECT_DIR, "docs", "deploy.md");

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const preflightOnly = args.includes("--preflight-only");
  const wranglerArgs = args.filter((arg) => arg !== "--preflight-only");
  const configPath = optionValue(wranglerArgs, "--config", "-c");
  const environment = optionValue(wranglerArgs, "--env", "-e");

  const config = await readWranglerConfig(configPath, environment);
  const secrets = readDocumentedSecrets(await readFile(DEPLOY_DOC, "utf8"));
  const relative = path.relative(process.cwd(), config.configPath);
  const label = relative && !relative.startsWith("..") ? relative : config.configPath;
  if (!secrets) {
    console.error(`Not deploying: ${DEPLOY_DOC} has no secrets list (the <!-- deploy-secrets --> block)`);
    return 1;
  }
  const { problems, hyperdriveIds } = checkDeploy(config, secrets);
  if (problems.length > 0) {
    console.error(`Not deploying: ${label} is not ready for production (${problems.length} problems):`);
    for (const problem of problems) console.error(`  - ${problem}`);
    console.error("Every step is in docs/deploy.md.");
    return 1;
  }
  printReminders(label, secrets, hyperdriveIds, wranglerArgs);
  if (preflightOnly) return 0;
  const configArgs = configPath ? [] : ["--config", config.configPath];
  await buildDocsAssets();
  return runWrangler(["deploy", ...configArgs, ...wranglerArgs]);
}

/** What the preflight cannot check offline, as the commands that check it. */
function printReminders(label: string, secrets: string[], hyperdriveIds: string[], args: string[]): void {
  const scope = [optionFlag(args, "--config", "-c"), optionFlag(args, "--env", "-e")]
    .filter(Boolean)
    .join(" ");
  const suffix = scope ? ` ${scope}` : "";
  console.log(`Preflight passed for ${label}. Confirm what only Cloudflare can tell (not checked here):`);
  console.log(`  npx wrangler secret list${suffix}`);
  console.log(`      must list ${secrets.join(", ")}`);
  for (const id of hyperdriveIds) {
    console.log(`  npx wrangler hyperdrive get ${id}`);
    console.log(`      must show "caching": { "disabled": true } (else logins read stale rows for ~60 s)`);
  }
}

async function readWranglerConfig(
  configPath: string | undefined,
  environment: string | undefined,
): Promise<DeployConfig & { configPath: string }> {
  // wrangler's own reader: the same file resolution, environments and validation as the deploy.
  const { unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig(
    { config: configPath ?? path.join(PROJECT_DIR, "wrangler.toml"), env: environment },
    { hideWarnings: true },
  );
  return { ...config, configPath: config.configPath ?? configPath ?? "wrangler.toml" };
}

function runWrangler(args: string[]): Promise<number> {
  const child = spawn(process.execPath, [wranglerScript(), ...args], { stdio: "inherit" });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}

/** `--config x`, `--config=x`, `-c x`. */
function optionValue(args: string[], long: string, short: string): string | undefined {
  for (const [i, arg] of args.entries()) {
    if (arg === long || arg === short) return args[i + 1];
    if (arg.startsWith(`${long}=`)) return arg.slice(long.length + 1);
  }
  return undefined;
}

function optionFlag(args: string[], long: string, short: string): string {
  const value = optionValue(args, long, short);
  return value === undefined ? "" : `${long} ${value}`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`Not deploying: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
