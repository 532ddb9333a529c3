import { defineConfig } from "vitest/config";

// The gravy CLI's suites: plain Node (the CLI never runs in workerd), against a real Postgres.
export default defineConfig({
  test: {
    environment: "node",
    globalSetup: ["./test-node/global-setup.ts"],
    include: ["test-node/**/*.test.ts"],
    reporters: ["default", "./test/support/exit-code-reporter.ts"],
    // Password hashing, pg_dump and spawned processes are slow on a small machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Stopping the embedded server can take a while when the machine is busy.
    teardownTimeout: 30_000,
  },
});
