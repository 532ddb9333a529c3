/**
 * What `npm run deploy` checks before uploading, without the network: no placeholder left in
 * wrangler.toml, NODE_ENV not switched away from production, and every variable it requires in
 * [vars] or in the list of secrets docs/deploy.md tells the operator to set. What it cannot see
 * from here (that the secrets exist, that Hyperdrive caches nothing) it prints as commands.
 */
import { ConfigError, PRODUCTION_REQUIRED, parseConfig } from "../config";

/** The parts of wrangler's configuration the preflight reads. */
export interface DeployConfig {
  vars: Record<string, unknown>;
  hyperdrive: { binding: string; id?: string }[];
  kv_namespaces: { binding: string; id?: string }[];
  routes?: (string | { pattern: string })[] | undefined;
}

export interface PreflightResult {
  problems: string[];
  /** The secrets the documented list names: `wrangler secret list` must show them. */
  secrets: string[];
  hyperdriveIds: string[];
}

const PLACEHOLDER = /REPLACE_WITH_|yourdomain\.com/i;
const SECRETS_MARKER = "<!-- deploy-secrets";
const SECRET_LINE = /^\s*npx wrangler secret put ([A-Z][A-Z0-9_]*)\s*$/;

/**
 * The secrets list in docs/deploy.md: the `npx wrangler secret put NAME` lines of the first
 * fenced block after the `<!-- deploy-secrets … -->` marker. Undefined when there is no marker.
 */
export function readDocumentedSecrets(markdown: string): string[] | undefined {
  const lines = markdown.split("\n");
  const marker = lines.findIndex((line) => line.trim().startsWith(SECRETS_MARKER));
  if (marker < 0) return undefined;
  const open = lines.findIndex((line, i) => i > marker && line.trim().startsWith("```"));
  const close = lines.findIndex((line, i) => i > open && line.trim().startsWith("```"));
  if (open < 0 || close < 0) return undefined;
  return lines
    .slice(open + 1, close)
    .map((line) => SECRET_LINE.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

export function checkDeploy(config: DeployConfig, secrets: string[]): PreflightResult {
  const problems = [...checkBindings(config), ...checkRoutes(config), ...checkVariables(config, secrets)];
  const hyperdriveIds = config.hyperdrive.map((entry) => entry.id ?? "").filter(Boolean);
  return { problems, secrets, hyperdriveIds };
}

function checkBindings(config: DeployConfig): string[] {
  const problems: string[] = [];
  const hyperdrive = config.hyperdrive.find((entry) => entry.binding === "HYPERDRIVE");
  if (!hyperdrive && !("DATABASE_URL" in config.vars)) {
    problems.push("[[hyperdrive]] HYPERDRIVE is missing: the Worker would have no database");
  }
  if (hyperdrive && (!hyperdrive.id || PLACEHOLDER.test(hyperdrive.id))) {
    problems.push(
      `[[hyperdrive]] HYPERDRIVE: id is ${hyperdrive.id || "empty"}; create the configuration with caching disabled and put its id here`,
    );
  }
  const kv = config.kv_namespaces.find((entry) => entry.binding === "REVOCATIONS");
  if (!kv) problems.push("[[kv_namespaces]] REVOCATIONS is missing: revoked tokens need it");
  else if (!kv.id || PLACEHOLDER.test(kv.id)) {
    problems.push(
      `[[kv_namespaces]] REVOCATIONS: id is ${kv.id || "empty"}; create it (npx wrangler kv namespace create REVOCATIONS) and put its id here`,
    );
  }
  return problems;
}

function checkRoutes(config: DeployConfig): string[] {
  return (config.routes ?? [])
    .map((route) => (typeof route === "string" ? route : route.pattern))
    .filter((pattern) => PLACEHOLDER.test(pattern))
    .map((pattern) => `routes: ${pattern} is the example domain; route your own (e.g. auth.example.org)`);
}

function checkVariables(config: DeployConfig, secrets: string[]): string[] {
  const problems: string[] = [];
  const vars = config.vars;
  // Unset is production inside the Worker; anything else would switch the production checks off.
  if (vars.NODE_ENV !== undefined && vars.NODE_ENV !== "production") {
    problems.push(`[vars] NODE_ENV must be "production" or unset (it is ${JSON.stringify(vars.NODE_ENV)})`);
  }
  for (const [key, value] of Object.entries(vars)) {
    if (typeof value === "string" && PLACEHOLDER.test(value)) {
      problems.push(`[vars] ${key} = "${value}" is the example domain; use your own`);
    }
    if (secrets.includes(key)) {
      problems.push(`${key} is both in [vars] and in the secrets list: keep it in one place (a secret)`);
    }
  }
  for (const key of Object.keys(PRODUCTION_REQUIRED)) {
    if (!isSet(vars[key]) && !secrets.includes(key)) {
      problems.push(
        `${key} is required in production: set it in [vars], or as a secret listed in docs/deploy.md`,
      );
    }
  }
  const refused = refusedVars(vars);
  if (refused) problems.push(`[vars] would be refused in production: ${refused}`);
  return problems;
}

/**
 * Runs the production checks on [vars] alone: every required variable that is not in [vars]
 * stands in with a value those checks accept, so only what [vars] itself says can fail.
 */
function refusedVars(vars: Record<string, unknown>): string | undefined {
  const standIns = Object.fromEntries(Object.keys(PRODUCTION_REQUIRED).map((key) => [key, "x".repeat(64)]));
  const present = Object.fromEntries(Object.entries(vars).filter(([, value]) => isSet(value)));
  try {
    parseConfig({ ...standIns, ...present, NODE_ENV: "production" });
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.message.replace(/^Invalid configuration: /, "");
    throw error;
  }
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && String(value).trim() !== "";
}
