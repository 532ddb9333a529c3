/** What the fake Mailgun recorded, for tests that follow mailed links. */
import { bindings, openTestDatabase } from "./worker";

export interface Recorded {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export async function inbox(email: string): Promise<Recorded[]> {
  const response = await fetch(
    `${String(bindings.MAILGUN_API_BASE)}/recorded?to=${encodeURIComponent(email)}`,
  );
  return (await response.json()) as Recorded[];
}

/** The token of the newest link to this page in the address's inbox, or undefined. */
export async function linkToken(email: string, page: string): Promise<string | undefined> {
  const messages = await inbox(email);
  for (const message of messages.reverse()) {
    const match = new RegExp(`https?://[^\\s]+/${page}\\?token=([A-Za-z0-9_-]+)`).exec(message.text);
    if (match?.[1]) return match[1];
  }
  return undefined;
}

/** Audit rows of a user, oldest first. */
export async function auditRows(
  userId: string,
): Promise<{ event: string; details: Record<string, unknown> | null }[]> {
  const handle = openTestDatabase();
  try {
    const result = await handle.db.execute(
      `select event, details from audit where user_id = '${userId}' order by created_at, id`,
    );
    return result.rows as { event: string; details: Record<string, unknown> | null }[];
  } finally {
    await handle.close();
  }
}
