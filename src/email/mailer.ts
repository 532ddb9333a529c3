/**
 * Delivery of emails: Mailgun's HTTP API in production; without a Mailgun key outside
 * production, the email (with its link) is written to the log instead.
 */
import type { Config } from "../config";
import { log } from "../log";
import type { EmailContent } from "./templates";

export interface Email extends EmailContent {
  to: string;
}

export interface Mailer {
  /** Resolves when delivered; rejects with MailError when the provider refused or was unreachable. */
  send(email: Email): Promise<void>;
}

export class MailError extends Error {
  override readonly name = "MailError";
  constructor(
    message: string,
    /** The provider's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

// Workers reject a detached `fetch` ("Illegal invocation"), so the default keeps its binding.
const globalFetch: typeof fetch = (input, init) => fetch(input, init);

export function createMailer(config: Config, fetcher: typeof fetch = globalFetch): Mailer {
  if (config.mailgunApiKey && config.mailgunDomain) {
    return mailgunMailer({
      apiBase: config.mailgunApiBase,
      apiKey: config.mailgunApiKey,
      domain: config.mailgunDomain,
      from: config.fromEmail ?? `noreply@${config.mailgunDomain}`,
      fetcher,
    });
  }
  return logMailer;
}

interface MailgunSettings {
  apiBase: string;
  apiKey: string;
  domain: string;
  from: string;
  fetcher: typeof fetch;
}

function mailgunMailer(settings: MailgunSettings): Mailer {
  const url = `${settings.apiBase}/v3/${encodeURIComponent(settings.domain)}/messages`;
  const authorization = `Basic ${btoa(`api:${settings.apiKey}`)}`;
  return {
    async send(email) {
      const body = new URLSearchParams({
        from: settings.from,
        to: email.to,
        subject: email.subject,
        text: email.text,
        html: email.html,
      });
      let response: Response;
      try {
        response = await settings.fetcher(url, { method: "POST", headers: { authorization }, body });
      } catch (error) {
        throw new MailError(
          `Mailgun unreachable: ${error instanceof Error ? error.message : "network error"}`,
        );
      }
      await response.body?.cancel();
      if (!response.ok) throw new MailError(`Mailgun answered ${response.status}`, response.status);
    },
  };
}

/** Development only: prints the email so its link can be followed by hand. */
const logMailer: Mailer = {
  async send(email) {
    log.info("email (not sent: no MAILGUN_API_KEY)", {
      to: email.to,
      subject: email.subject,
      text: email.text,
    });
  },
};
