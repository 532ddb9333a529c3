/**
 * The secrets `npm start` generates when they are unset outside production: `JWT_SECRET` (signs
 * tokens) and `ENCRYPTION_KEY` (seals TOTP secrets, provider client secrets, signing keys). They
 * are kept in `.turkey/` so local tokens and sealed values survive restarts, and the CLI reads
 * the same files, so `gravy` and the local Worker agree. Never used in production.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

export const DEVELOPMENT_SECRETS = {
  JWT_SECRET: "dev-jwt-secret",
  ENCRYPTION_KEY: "dev-encryption-key",
} as const;

type SecretName = keyof typeof DEVELOPMENT_SECRETS;

function secretFile(cwd: string, name: SecretName): string {
  return path.join(cwd, ".turkey", DEVELOPMENT_SECRETS[name]);
}

/** The development secret, created (random, mode 600) on first use. */
export async function developmentSecret(cwd: string, name: SecretName): Promise<string> {
  const file = secretFile(cwd, name);
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  await mkdir(path.dirname(file), { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  await writeFile(file, secret, { mode: 0o600 });
  await chmod(file, 0o600);
  return secret;
}

/** The variables with each unset development secret filled from `.turkey/`, where it exists. */
export function withDevelopmentSecrets(
  env: Record<string, string | undefined>,
  cwd: string,
): Record<string, string | undefined> {
  if (env.NODE_ENV === "production") return env;
  const filled = { ...env };
  for (const name of Object.keys(DEVELOPMENT_SECRETS) as SecretName[]) {
    const file = secretFile(cwd, name);
    if (!filled[name] && existsSync(file)) filled[name] = readFileSync(file, "utf8").trim();
  }
  return filled;
}
