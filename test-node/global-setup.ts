/**
 * Runs once before the Node suites (the gravy CLI): a PostgreSQL server on which every test
 * file creates its own scratch databases. An embedded server by default, or the server named
 * by TEST_DATABASE_URL (whose existing databases are never touched).
 */
import type { TestProject } from "vitest/node";
import { startScratchEmbedded } from "../test/support/scratch-database";

declare module "vitest" {
  export interface ProvidedContext {
    /** A database URL on the test server that may create and drop databases. */
    serverUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL;
  const server = external
    ? { url: external, drop: async () => {} }
    : await startScratchEmbedded("postgres", { firstPort: 56_000, ports: 1000 });
  project.provide("serverUrl", server.url);
  return () => server.drop();
}
