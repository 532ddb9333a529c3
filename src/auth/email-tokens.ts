/**
 * Single-use tokens sent by email: verification (24 h), password reset (1 h) and the
 * confirmation of a new address (24 h). Only their
 * SHA-256 hash is stored; links point at the app's own site or at Turkey's hosted pages.
 */
import { type SQL, sql } from "drizzle-orm";
import type { OutgoingEmail } from "../email/outbox";
import { passwordResetEmail, verificationEmail } from "../email/templates";
import { generateSecretToken, hashSecretToken } from "./secrets";
import type { AuthContext } from "./session-context";

export type EmailTokenKind = "verify_email" | "reset_password" | "change_email";
/** The kinds mailed to the account's own address. */
export type AccountEmailKind = Exclude<EmailTokenKind, "change_email">;

export const EMAIL_TOKEN_TTL_MS: Record<EmailTokenKind, number> = {
  verify_email: 24 * 3600_000,
  reset_password: 3600_000,
  change_email: 24 * 3600_000,
};
/** At most one email of a kind per address per minute; more are skipped silently. */
export const EMAIL_THROTTLE_MS = 60_000;

/** The page each mailed link opens. */
export type LinkKind = EmailTokenKind | "email_login";

const PATHS: Record<LinkKind, string> = {
  verify_email: "verify-email",
  reset_password: "reset-password",
  change_email: "confirm-email",
  email_login: "email-login",
};

export interface PlannedToken {
  kind: EmailTokenKind;
  token: string;
  expiresAt: Date;
}

export function planEmailToken<K extends EmailTokenKind>(
  ctx: Pick<AuthContext, "now">,
  kind: K,
): PlannedToken & { kind: K } {
  return {
    kind,
    token: generateSecretToken(),
    expiresAt: new Date(ctx.now.getTime() + EMAIL_TOKEN_TTL_MS[kind]),
  };
}

export const EMAIL_TOKEN_COLUMNS = sql`app_id, user_id, kind, token_hash, created_at, expires_at`;

/** Values for `insert into email_tokens (EMAIL_TOKEN_COLUMNS)`; the user may be a column. */
export function emailTokenValues(ctx: AuthContext, planned: PlannedToken, userId: SQL | string): SQL {
  const user = typeof userId === "string" ? sql`${userId}::uuid` : userId;
  return sql`${ctx.app.id}, ${user}, ${planned.kind}, ${hashSecretToken(planned.token)}, ${ctx.now}, ${planned.expiresAt}`;
}

/**
 * The link a mail carries: the app's own page, or Turkey's hosted page for apps that turned
 * hosted pages on (`/pages/<appId>/<page>` on the origin the request reached).
 */
export function emailLink(ctx: Pick<AuthContext, "app" | "origin">, kind: LinkKind, token: string): string {
  const { app, origin } = ctx;
  const hosted = app.hostedPages && origin;
  const base = hosted ? `${origin}/pages/${app.id}` : app.url.replace(/\/+$/, "");
  return `${base}/${PATHS[kind]}?token=${encodeURIComponent(token)}`;
}

/** The mail carrying a token. It holds no text a user chose: the address may not be theirs. */
export function tokenEmail(
  ctx: AuthContext,
  user: { id: string; email: string },
  planned: PlannedToken & { kind: AccountEmailKind },
): OutgoingEmail {
  const link = emailLink(ctx, planned.kind, planned.token);
  const content =
    planned.kind === "verify_email"
      ? verificationEmail(ctx.app, link, { usableUnverified: !ctx.config.requireEmailVerification })
      : passwordResetEmail(ctx.app, link);
  return { ...content, to: user.email, kind: planned.kind, appId: ctx.app.id, userId: user.id };
}

/**
 * Stores a new token for the user unless one of the same kind was issued within the throttle
 * window. Returns false when throttled.
 */
export async function storeThrottledToken(
  ctx: AuthContext,
  userId: string,
  planned: PlannedToken,
): Promise<boolean> {
  const result = await ctx.db.execute(sql`
    insert into email_tokens (${EMAIL_TOKEN_COLUMNS})
    select ${emailTokenValues(ctx, planned, userId)}
    where ${notMailedRecently(ctx, planned.kind, sql`${userId}::uuid`)}`);
  return (result.rowCount ?? 0) > 0;
}

/** SQL condition: no token of this kind went to the user within the throttle window. */
export function notMailedRecently(ctx: Pick<AuthContext, "now">, kind: EmailTokenKind, userId: SQL): SQL {
  const since = new Date(ctx.now.getTime() - EMAIL_THROTTLE_MS);
  return sql`not exists (
    select 1 from email_tokens
    where user_id = ${userId} and kind = ${kind} and created_at > ${since})`;
}
