/** `gravy dev create-test-user [--app demo] [--email E] [--password P]`. */
import { type Config, parseConfig } from "../../config";
import type { Command } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { formatFields, type Io, writeJson, writeLines } from "../output";
import { createTestUser } from "../test-user";

export const createTestUserCommand: Command = {
  name: "dev create-test-user",
  summary: "Create a verified user and print its email, password and a fresh token pair.",
  details: [
    "Tokens are signed with JWT_SECRET, as the Worker signs them (without it, outside production,",
    "the development secret that `npm start` keeps in .turkey/dev-jwt-secret).",
  ].join("\n"),
  options: {
    app: { type: "string", valueName: "appId", description: "app to create the user in (default demo)" },
    email: { type: "string", valueName: "email", description: "default: test-<random>@example.com" },
    password: { type: "string", valueName: "password", description: "default: a generated one" },
  },
  async run(ctx) {
    const config = workerConfig(ctx.io);
    const target = databaseTarget(ctx.io.env);
    const request = {
      appId: ctx.string("app") ?? "demo",
      email: ctx.string("email"),
      password: ctx.string("password"),
      now: new Date(),
    };
    const user = await withDatabase(target, (handle) => createTestUser(handle.db, config, request));
    if (ctx.json) return writeJson(ctx.io, user);
    writeLines(
      ctx.io,
      formatFields([
        ["App", user.user.appId],
        ["User id", user.user.id],
        ["Email", user.email],
        ["Password", user.password],
        ["Access token", user.accessToken],
        ["Expires in", `${user.expiresIn} s`],
        ["Refresh token", user.refreshToken],
      ]),
      "",
      `Try it: curl -H 'X-App-Id: ${user.user.appId}' -H 'Authorization: Bearer <access token>' <turkey>/v1/auth/me`,
    );
  },
};

/** The Worker's configuration, so the tokens carry the Worker's issuer and lifetimes. */
function workerConfig(io: Io): Config {
  return parseConfig(io.env);
}
