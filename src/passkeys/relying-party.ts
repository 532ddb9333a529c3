/**
 * Who the passkeys of an app belong to (the WebAuthn relying party). The RP ID is the
 * registrable domain of the app's URL, so a passkey made on www.example.com also works on
 * app.example.com; localhost and IP addresses are their own RP ID. Only the app's own origin
 * and the ALLOWED_ORIGINS under that domain may present a passkey.
 */
import { getDomain } from "tldts";
import type { App } from "../apps/registry";

export interface RelyingParty {
  id: string;
  name: string;
  origins: string[];
}

export function relyingParty(
  app: Pick<App, "name" | "url">,
  allowedOrigins: readonly string[],
): RelyingParty {
  const appUrl = new URL(app.url);
  // Private suffixes count (github.io, pages.dev): browsers refuse an RP ID that is a public suffix.
  const id = getDomain(appUrl.hostname, { allowPrivateDomains: true }) ?? appUrl.hostname;
  const under = allowedOrigins.filter((origin) => isWithin(hostOf(origin), id));
  return { id, name: app.name, origins: [...new Set([appUrl.origin, ...under])] };
}

function hostOf(origin: string): string {
  try {
    return new URL(origin).hostname;
  } catch {
    return "";
  }
}

function isWithin(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}
