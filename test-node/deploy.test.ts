/**
 * `npm run deploy`'s preflight: it refuses the repository's own wrangler.toml (placeholders,
 * missing production variables) with the whole list, and passes a configured copy — run with
 * --preflight-only, so nothing is uploaded.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkDeploy, type DeployConfig, readDocumentedSecrets } from "../src/cli/deploy-preflight";
import { PRODUCTION_REQUIRED } from "../src/config";
import { emptyFolder } from "./support/gravy";
import { ROOT, runScript } from "./support/scripts";

const HYPERDRIVE_ID = "0123456789abcdef0123456789abcdef";
const folders: string[] = [];
afterAll(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

/** The repository's wrangler.toml with ids, domain and [vars] filled in as docs/deploy.md says. */
async function configuredCopy(extraVars: Record<string, string> = {}): Promise<string> {
  const vars = {
    MAILGUN_DOMAIN: "mg.example.org",
    FROM_EMAIL: "noreply@example.org",
    ALLOWED_ORIGINS: "https://app.example.org,https://admin.example.org",
    ...extraVars,
  };
  const toml = (await readFile(path.join(ROOT, "wrangler.toml"), "utf8"))
    .replace("REPLACE_WITH_HYPERDRIVE_ID", HYPERDRIVE_ID)
    .replace("REPLACE_WITH_KV_NAMESPACE_ID", "fedcba9876543210fedcba9876543210")
    .replace('pattern = "auth.yourdomain.com"', 'pattern = "auth.example.org"')
    .replace(
      /^\[vars\]\n(NODE_ENV = "production"\n)?/m,
      `[vars]\n${Object.entries({ NODE_ENV: "production", ...vars })
        .map(([key, value]) => `${key} = ${JSON.stringify(value)}`)
        .join("\n")}\n`,
    );
  const folder = await emptyFolder();
  folders.push(folder);
  const file = path.join(folder, "wrangler.toml");
  await writeFile(file, toml);
  return file;
}

describe("npm run deploy", () => {
  it("refuses the repository's unconfigured wrangler.toml, listing everything", {
    timeout: 120_000,
  }, async () => {
    const result = await runScript("deploy", [], ROOT, {});
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.split("\n")).toEqual([
      "Not deploying: wrangler.toml is not ready for production (6 problems):",
      "  - [[hyperdrive]] HYPERDRIVE: id is REPLACE_WITH_HYPERDRIVE_ID; create the configuration with caching disabled and put its id here",
      "  - [[kv_namespaces]] REVOCATIONS: id is REPLACE_WITH_KV_NAMESPACE_ID; create it (npx wrangler kv namespace create REVOCATIONS) and put its id here",
      "  - routes: auth.yourdomain.com is the example domain; route your own (e.g. auth.example.org)",
      "  - MAILGUN_DOMAIN is required in production: set it in [vars], or as a secret listed in docs/deploy.md",
      "  - FROM_EMAIL is required in production: set it in [vars], or as a secret listed in docs/deploy.md",
      "  - ALLOWED_ORIGINS is required in production: set it in [vars], or as a secret listed in docs/deploy.md",
      "Every step is in docs/deploy.md.",
      "",
    ]);
  });

  it("passes a configured copy and names what to confirm, without deploying", {
    timeout: 120_000,
  }, async () => {
    const config = await configuredCopy();
    const result = await runScript("deploy", ["--config", config, "--preflight-only"], ROOT, {});
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      `Preflight passed for ${config}. Confirm what only Cloudflare can tell (not checked here):`,
      `  npx wrangler secret list --config ${config}`,
      "      must list JWT_SECRET, MAILGUN_API_KEY, ENCRYPTION_KEY",
      `  npx wrangler hyperdrive get ${HYPERDRIVE_ID}`,
      '      must show "caching": { "disabled": true } (else logins read stale rows for ~60 s)',
      "",
    ]);
  });

  it("refuses [vars] that production would refuse, and secrets kept in [vars]", {
    timeout: 120_000,
  }, async () => {
    const config = await configuredCopy({
      MAILGUN_DOMAIN: "sandbox0123456789abcdef.mailgun.org",
      JWT_SECRET: "in-plain-sight",
    });
    const result = await runScript("deploy", ["--config", config, "--preflight-only"], ROOT, {});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "  - JWT_SECRET is both in [vars] and in the secrets list: keep it in one place (a secret)\n",
    );
    expect(result.stderr).toMatch(
      / {2}- \[vars\] would be refused in production: JWT_SECRET must be at least 32 characters in production; MAILGUN_DOMAIN is a Mailgun sandbox domain/,
    );
  });
});

describe("the preflight's rules", () => {
  const ready: DeployConfig = {
    vars: { NODE_ENV: "production", MAILGUN_DOMAIN: "mg.example.org", FROM_EMAIL: "a@example.org" },
    hyperdrive: [{ binding: "HYPERDRIVE", id: HYPERDRIVE_ID }],
    kv_namespaces: [{ binding: "REVOCATIONS", id: "fedcba9876543210fedcba9876543210" }],
    routes: [{ pattern: "auth.example.org" }],
  };
  const secrets = ["JWT_SECRET", "MAILGUN_API_KEY", "ALLOWED_ORIGINS"];

  it("read the secrets list from docs/deploy.md", async () => {
    const documented = readDocumentedSecrets(await readFile(path.join(ROOT, "docs", "deploy.md"), "utf8"));
    expect(documented).toEqual(["JWT_SECRET", "MAILGUN_API_KEY", "ENCRYPTION_KEY"]);
    expect(
      readDocumentedSecrets("# Deploy\n```bash\nnpx wrangler secret put JWT_SECRET\n```\n"),
    ).toBeUndefined();
  });

  it("require exactly what the production configuration requires", () => {
    expect(checkDeploy(ready, secrets).problems).toEqual([]);
    for (const key of Object.keys(PRODUCTION_REQUIRED)) {
      const { [key]: _inVars, ...vars } = ready.vars;
      const problems = checkDeploy(
        { ...ready, vars },
        secrets.filter((name) => name !== key),
      ).problems;
      expect(problems).toEqual([
        `${key} is required in production: set it in [vars], or as a secret listed in docs/deploy.md`,
      ]);
    }
  });

  it("accept NODE_ENV unset, which the Worker takes as production", () => {
    const { NODE_ENV: _unset, ...vars } = ready.vars;
    expect(checkDeploy({ ...ready, vars }, secrets).problems).toEqual([]);
  });

  it("want NODE_ENV=production and no example domain anywhere", () => {
    const problems = checkDeploy(
      {
        ...ready,
        vars: { ...ready.vars, NODE_ENV: "development", FROM_EMAIL: "noreply@yourdomain.com" },
        routes: ["auth.yourdomain.com/*"],
      },
      secrets,
    ).problems;
    expect(problems).toEqual([
      "routes: auth.yourdomain.com/* is the example domain; route your own (e.g. auth.example.org)",
      '[vars] NODE_ENV must be "production" or unset (it is "development")',
      '[vars] FROM_EMAIL = "noreply@yourdomain.com" is the example domain; use your own',
    ]);
  });
});
