import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { pgWorkerdAliases } from "./test/support/pg-aliases";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        hyperdrives: { HYPERDRIVE: inject("databaseUrl") },
        bindings: {
          NODE_ENV: "test",
          JWT_SECRET: "test-secret-that-is-long-enough-for-hs256-0123456789",
          // Seals TOTP secrets, OAuth client secrets and stored signing keys in the tests.
          ENCRYPTION_KEY: "test-encryption-key-that-is-long-enough-0123456789",
          TEST_DATABASE_URL: inject("databaseUrl"),
          KEYS_DATABASE_URL: inject("keysDatabaseUrl"),
          NEON_WS_PROXY: inject("neonWsProxy"),
          // Suites make many sign-ins from one address; the rate-limit suite sets its own limits.
          RATE_LIMIT_MAX_REQUESTS: "1000000",
          // Every email goes to a local fake of Mailgun's API (test/support/fake-mailgun.ts).
          MAILGUN_API_BASE: inject("mailgunUrl"),
          MAILGUN_API_KEY: "key-test-0123456789",
          MAILGUN_DOMAIN: "mg.turkey.test",
          FROM_EMAIL: "noreply@turkey.test",
          // Fake social sign-in providers (test/support/fake-providers.ts).
          TEST_PROVIDERS_URL: inject("providersUrl"),
          // A real OpenID Connect provider (test/support/oidc-provider.ts) and Turkey's client there.
          TEST_OIDC_ISSUER: inject("oidcIssuer"),
          TEST_OIDC_CLIENT: inject("oidcClient"),
          // Every answer a test receives is checked against the OpenAPI document there.
          RESPONSE_CHECK_URL: inject("responseCheckUrl"),
        },
      },
    })),
  ],
  resolve: { alias: pgWorkerdAliases },
  test: {
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/support/exit-code-reporter.ts"],
    // Each password hash costs ~150 ms of CPU by design; on a busy 2-core machine a test that
    // signs in a dozen times needs more than the default 5 s.
    testTimeout: 30_000,
    // Suites that arrange tens of thousands of rows (query plans) need more than 10 s there too.
    hookTimeout: 60_000,
    // One file at a time (the default on 2 cores): the query-plan and cleanup suites read and
    // rewrite whole tables, and a file running beside them changed the plans they assert.
    // Each test file loads the Worker afresh; its dependencies, bundled once into one module
    // each, load in far fewer round trips than their hundreds of files.
    deps: {
      optimizer: {
        ssr: {
          enabled: true,
          include: [
            "@noble/hashes/scrypt.js",
            "@simplewebauthn/server",
            "drizzle-orm",
            "drizzle-orm/pg-core",
            "hono",
            "hono-openapi",
            "hono/body-limit",
            "hono/cors",
            "hono/factory",
            "hono/html",
            "hono/http-exception",
            "jose",
            "oauth4webapi",
            "otpauth",
            "tldts",
            "zod/locales",
            "zod/mini",
          ],
        },
      },
    },
  },
});
