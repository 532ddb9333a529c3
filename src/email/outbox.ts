/**
 * Emails leave after the response (`waitUntil`), so the API never waits on Mailgun and a
 * Mailgun failure never reaches the client or loses the user row: it is logged and audited.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import type { Database } from "../db";
import { describeError, log } from "../log";
import { type Email, MailError, type Mailer } from "./mailer";

export interface OutgoingEmail extends Email {
  kind:
    | "verify_email"
    | "reset_password"
    | "existing_account"
    | "change_email"
    | "email_change_requested"
    | "email_changed"
    | "email_login"
    | "deletion_code";
  appId: string;
  /** Null for a sign-in code to an address that has no account yet (sign-up by email). */
  userId: string | null;
}

/** Where domain functions put emails; the HTTP layer decides when they are sent. */
export type Outbox = (email: OutgoingEmail) => void;

export async function deliver(
  mailer: Mailer,
  email: OutgoingEmail,
  openDatabase: () => { db: Database; close(): Promise<void> },
): Promise<void> {
  try {
    await mailer.send(email);
  } catch (error) {
    const status = error instanceof MailError ? error.status : undefined;
    log.warn("email not delivered", {
      kind: email.kind,
      appId: email.appId,
      status,
      ...describeError(error),
    });
    await auditFailure(openDatabase, email, status).catch((auditError: unknown) =>
      log.error("could not audit the failed email", describeError(auditError)),
    );
  }
}

async function auditFailure(
  openDatabase: () => { db: Database; close(): Promise<void> },
  email: OutgoingEmail,
  status: number | undefined,
): Promise<void> {
  const handle = openDatabase();
  try {
    const client = { ip: null, userAgent: null };
    await handle.db.execute(sql`
      insert into audit (${AUDIT_COLUMNS})
      values (${auditValues("mail_failed", email.appId, email.userId, client, new Date(), {
        kind: email.kind,
        status: status ?? null,
      })})`);
  } finally {
    await handle.close();
  }
}
