/**
 * PKCE (RFC 7636, S256) for sign-ins that leave the page and come back with a one-time code
 * (a followed email link, a social provider). The verifier waits in `localStorage` — the
 * return is a new page load, often in a new tab — and is removed when the code is exchanged.
 */
import { localStorageAdapter, type TurKeyStorage } from "./storage.js";
import { toBase64Url as base64url } from "./webauthn.js";

export class PkceStore {
  readonly #storage: TurKeyStorage = localStorageAdapter();
  readonly #key: string;

  constructor(appId: string) {
    this.#key = `turkey.${appId}.pkce`;
  }

  /** A new verifier, kept until `take`; returns its S256 challenge for the server. */
  async challenge(): Promise<string> {
    const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
    await this.#storage.setItem(this.#key, verifier);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    return base64url(new Uint8Array(digest));
  }

  /** The kept verifier, forgotten as it is read: a code is exchanged once. */
  async take(): Promise<string | null> {
    const verifier = await this.#storage.getItem(this.#key);
    await this.#storage.removeItem(this.#key);
    return verifier;
  }
}
