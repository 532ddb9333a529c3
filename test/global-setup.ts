/**
 * Runs once in Node before the workerd test pool: a fresh, migrated database (embedded
 * PostgreSQL by default, or a new database on the server named by TEST_DATABASE_URL), the
 * WebSocket relay for the Neon driver path, the fake Mailgun, fake social sign-in providers, and the service that checks
 * every answer against the OpenAPI document generated from the route contracts. All are
 * torn down afterwards.
 */
import type { TestProject } from "vitest/node";
import { createApp } from "../src/app";
import { applyMigrations } from "../src/db/migrate";
import { buildOpenApiDocument } from "../src/http/openapi";
import { startFakeMailgun } from "./support/fake-mailgun";
import { startFakeProviders } from "./support/fake-providers";
import { startOidcProvider } from "./support/oidc-provider";
import { startResponseChecker } from "./support/response-check";
import { createScratchDatabase, startScratchEmbedded } from "./support/scratch-database";
import { startWsRelay } from "./support/ws-relay";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    neonWsProxy: string;
    mailgunUrl: string;
    /** Fake social sign-in providers: OIDC under /<name>, GitHub under /github. */
    providersUrl: string;
    /** A real OpenID Connect provider (oidc-provider) and the client Turkey is registered as. */
    oidcIssuer: string;
    oidcClient: string;
    responseCheckUrl: string;
    /** A database of its own for the suite that rotates signing keys (they are global). */
    keysDatabaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const database = process.env.TEST_DATABASE_URL
    ? await createScratchDatabase(process.env.TEST_DATABASE_URL)
    : await startScratchEmbedded("turkey_test");
  await applyMigrations(database.url);
  const keysDatabase = await createScratchDatabase(database.url, "turkey_keys");
  await applyMigrations(keysDatabase.url);

  const { hostname, port } = new URL(database.url);
  const relay = await startWsRelay(`${hostname}:${port}`);
  const mailgun = await startFakeMailgun();
  const providers = await startFakeProviders();
  const oidcClient = { clientId: "turkey-workerd", clientSecret: `secret-${crypto.randomUUID()}` };
  const oidc = await startOidcProvider([
    {
      ...oidcClient,
      // Turkey in the test pool answers as http://localhost; one callback per preset it plays.
      redirectUris: ["oidc", "google", "microsoft", "apple"].map(
        (name) => `http://localhost/v1/auth/oauth/${name}/callback`,
      ),
    },
  ]);
  const responseCheck = await startResponseChecker(await buildOpenApiDocument(createApp()));

  project.provide("databaseUrl", database.url);
  project.provide("neonWsProxy", `127.0.0.1:${relay.port}/v1`);
  project.provide("mailgunUrl", mailgun.url);
  project.provide("providersUrl", providers.url);
  project.provide("oidcIssuer", oidc.issuer);
  project.provide("oidcClient", JSON.stringify(oidcClient));
  project.provide("responseCheckUrl", responseCheck.url);
  project.provide("keysDatabaseUrl", keysDatabase.url);
  // Wrangler reads this while the pool loads wrangler.toml; it wins over localConnectionString.
  process.env.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE = database.url;

  return async () => {
    await relay.close();
    await mailgun.close();
    await providers.close();
    await oidc.close();
    await responseCheck.close();
    await keysDatabase.drop();
    await database.drop();
  };
}
