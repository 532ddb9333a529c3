/**
 * A verified user with a live session, for trying an app against a running Turkey. Built
 * from the same pieces as registration (password policy and hashing, token planning and
 * signing), so its tokens are exactly what the Worker issues and accepts.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { findApp } from "../apps/registry";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { checkPasswordPolicy, hashingPolicy, hashPassword } from "../auth/passwords";
import type { IssueContext, TokenResponse } from "../auth/session-context";
import { type Issue, newSessionRow, planIssue, REFRESH_COLUMNS, tokenResponse } from "../auth/sessions";
import { normaliseEmail, type UserRow, userFromSql } from "../auth/users";
import type { Config } from "../config";
import type { Database } from "../db";
import { CliError } from "./errors";
import { generatePassword } from "./grants";

export interface TestUserRequest {
  appId: string;
  email?: string | undefined;
  password?: string | undefined;
  now: Date;
}

export interface TestUser extends TokenResponse {
  email: string;
  password: string;
}

const CLIENT = { ip: null, userAgent: "gravy dev create-test-user" };

export async function createTestUser(
  db: Database,
  config: Config,
  request: TestUserRequest,
): Promise<TestUser> {
  const app = await findApp(db, request.appId, request.now.getTime());
  if (!app) throw new CliError(`Unknown app "${request.appId}" (see \`gravy app list\`)`);
  const email = normaliseEmail(request.email ?? `test-${randomBytes(4).toString("hex")}@example.com`);
  const password = request.password ?? generatePassword();
  checkPasswordPolicy(password, config.passwordMinLength);

  const ctx: IssueContext = { config, app, client: CLIENT, now: request.now, db };
  const issue = planIssue(ctx);
  const user = await insertVerifiedUser(db, ctx, issue, {
    email,
    passwordHash: await hashPassword(password, hashingPolicy(config)),
  });
  return { email, password, ...(await tokenResponse(ctx, user, issue)) };
}

/** The user, its first session and the audit row, in one statement like registration. */
async function insertVerifiedUser(
  db: Database,
  ctx: IssueContext,
  issue: Issue,
  user: { email: string; passwordHash: string },
): Promise<UserRow> {
  const { app, now } = ctx;
  const result = await db.execute(sql`
    with created as (
      insert into users (app_id, email, email_verified, password_hash, created_at, updated_at)
      values (${app.id}, ${user.email}, true, ${user.passwordHash}, ${now}, ${now})
      on conflict (email, app_id) do nothing
      returning id, app_id, email, email_verified, name, created_at
    ), session as (
      insert into refresh_tokens (${REFRESH_COLUMNS})
      select ${newSessionRow(ctx, issue, sql`id`)} from created
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("register", app.id, sql`id`, CLIENT, now, { source: "cli" })} from created
    )
    select * from created`);
  const row = result.rows[0];
  if (!row) throw new CliError(`${user.email} already has an account in app "${app.id}"`);
  return userFromSql(row);
}
