/**
 * Email bodies, plain text and HTML. Anyone can register someone else's address, so no mail
 * carries text a user chose (not even their name): only the operator's app name and Turkey's
 * own words and links, escaped in the HTML part.
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

function layout(
  lines: string[],
  link: { label: string; url: string } | undefined,
  footer: string,
): EmailContent["html"] {
  const paragraphs = lines.map((line) => `<p>${escapeHtml(line)}</p>`).join("\n");
  const action = link ? `\n<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>` : "";
  return `<!doctype html>
<html><body style="font-family: sans-serif; line-height: 1.5">
${paragraphs}${action}
<p style="color: #666; font-size: 0.9em">${escapeHtml(footer)}</p>
</body></html>`;
}

const GREETING = "Hello,";

export function verificationEmail(
  app: App,
  link: string,
  { usableUnverified }: { usableUnverified: boolean },
): EmailContent {
  const lines = [GREETING, `Please confirm your email address for ${app.name}.`];
  // What to do if someone else signed up with this address depends on whether that account
  // can be used before it is confirmed.
  const notYou = usableUnverified
    ? `If you did not sign up, someone else used your address: choose "Forgot password" on ${app.name} with this address to take the account over, which signs everyone else out.`
    : "If you did not sign up, ignore this email: the account cannot be used without this link.";
  const footer = `The link is valid for 24 hours. ${notYou}`;
  return {
    subject: `Confirm your email for ${app.name}`,
    text: `${lines.join("\n\n")}\n\n${link}\n\n${footer}\n`,
    html: layout(lines, { label: "Confirm my email", url: link }, footer),
  };
}

export function passwordResetEmail(app: App, link: string): EmailContent {
  const lines = [GREETING, `Someone asked to reset your password for ${app.name}.`];
  const footer = "The link is valid for 1 hour. If it was not you, ignore this email: nothing changes.";
  return {
    subject: `Reset your password for ${app.name}`,
    text: `${lines.join("\n\n")}\n\n${link}\n\n${footer}\n`,
    html: layout(lines, { label: "Choose a new password", url: link }, footer),
  };
}

/** Sent instead of a second account when someone registers an email that already has one. */
export function existingAccountEmail(app: App, resetLink: string): EmailContent {
  const lines = [
    GREETING,
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

/** To the new address of an email change: the link that makes the change. */
export function confirmNewEmailEmail(app: App, link: string): EmailContent {
  const lines = [GREETING, `Someone asked to use this address for their account on ${app.name}.`];
  const footer = "The link is valid for 24 hours. If it was not you, ignore this email: nothing changes.";
  return {
    subject: `Confirm your new email for ${app.name}`,
    text: `${lines.join("\n\n")}\n\n${link}\n\n${footer}\n`,
    html: layout(lines, { label: "Use this email address", url: link }, footer),
  };
}

/**
 * To the old address when a change is asked for. No link and not the new address: whoever
 * holds the session chose that text, and a link here would be one more thing to phish with.
 */
export function emailChangeRequestedEmail(app: App): EmailContent {
  const lines = [
    GREETING,
    `Someone signed in to your account on ${app.name} asked to move it to another email address.`,
    "Nothing changes unless that address confirms the change.",
  ];
  const footer = `If it was not you, change your password on ${app.name} now: that signs everyone else out.`;
  return {
    subject: `Email change requested for ${app.name}`,
    text: `${lines.join("\n\n")}\n\n${footer}\n`,
    html: layout(lines, undefined, footer),
  };
}

/** To the old address once the change is made. */
export function emailChangedEmail(app: App): EmailContent {
  const lines = [
    GREETING,
    `Your account on ${app.name} now uses another email address; this one no longer signs in.`,
  ];
  const footer = `If it was not you, contact the support of ${app.name}.`;
  return {
    subject: `Your email address for ${app.name} was changed`,
    text: `${lines.join("\n\n")}\n\n${footer}\n`,
    html: layout(lines, undefined, footer),
  };
}

/** A sign-in code and link (passwordless sign-in); valid for 10 minutes, spent by either. */
export function emailLoginEmail(app: App, code: string, link: string): EmailContent {
  const lines = [GREETING, `Your sign-in code for ${app.name} is ${code}.`, "Or sign in with this link:"];
  const footer =
    "The code and the link are valid for 10 minutes, once. If you did not ask to sign in, ignore this email: nobody can sign in without it.";
  return {
    subject: `${code} is your sign-in code for ${app.name}`,
    text: `${lines.join("\n\n")}\n\n${link}\n\n${footer}\n`,
    html: layout(lines, { label: `Sign in to ${app.name}`, url: link }, footer),
  };
}

/** A code that confirms the deletion of the account; no link, valid for 10 minutes, once. */
export function deletionCodeEmail(app: App, code: string): EmailContent {
  const lines = [GREETING, `Your code to delete your account on ${app.name} is ${code}.`];
  const footer =
    "The code is valid for 10 minutes, once. If you did not ask to delete your account, ignore this email and change your password: someone may be signed in as you.";
  return {
    subject: `${code} is your code to delete your account on ${app.name}`,
    text: `${lines.join("\n\n")}\n\n${footer}\n`,
    html: layout(lines, undefined, footer),
  };
}
