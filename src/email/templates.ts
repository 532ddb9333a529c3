/**
 * Email bodies, plain text and HTML. Everything a user or an app owner controls (names, app
 * names, links) is escaped in the HTML part.
 */
import type { App } from "../apps/registry";

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(lines: string[], link: { label: string; url: string }, footer: string): EmailContent["html"] {
  const paragraphs = lines.map((line) => `<p>${escapeHtml(line)}</p>`).join("\n");
  return `<!doctype html>
<html><body style="font-family: sans-serif; line-height: 1.5">
${paragraphs}
<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>
<p style="color: #666; font-size: 0.9em">${escapeHtml(footer)}</p>
</body></html>`;
}

function greeting(name: string | null): string {
  return name ? `Hello ${name},` : "Hello,";
}

export function verificationEmail(app: App, link: string, name: string | null): EmailContent {
  const lines = [greeting(name), `Please confirm your email address for ${app.name}.`];
  const footer = "The link is valid for 24 hours. If you did not sign up, ignore this email.";
  return {
    subject: `Confirm your email for ${app.name}`,
    text: `${lines.join("\n\n")}\n\n${link}\n\n${footer}\n`,
    html: layout(lines, { label: "Confirm my email", url: link }, footer),
  };
}

export function passwordResetEmail(app: App, link: string, name: string | null): EmailContent {
  const lines = [greeting(name), `Someone asked to reset your password for ${app.name}.`];
  const footer = "The link is valid for 1 hour. If it was not you, ignore this email: nothing changes.";
  return {
    subject: `Reset your password for ${app.name}`,
    text: `${lines.join("\n\n")}\n\n${link}\n\n${footer}\n`,
    html: layout(lines, { label: "Choose a new password", url: link }, footer),
  };
}

/** Sent instead of a second account when someone registers an email that already has one. */
export function existingAccountEmail(app: App, resetLink: string, name: string | null): EmailContent {
  const lines = [
    greeting(name),
    `Someone tried to create an account for ${app.name} with this email, which already has one.`,
    "If it was you, sign in instead — or, if you forgot your password, choose a new one:",
  ];
  const footer = "The link is valid for 1 hour. If it was not you, ignore this email: nothing changes.";
  return {
    subject: `You already have an account for ${app.name}`,
    text: `${lines.join("\n\n")}\n\n${resetLink}\n\n${footer}\n`,
    html: layout(lines, { label: "Choose a new password", url: resetLink }, footer),
  };
}
