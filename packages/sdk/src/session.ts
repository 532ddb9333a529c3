/** The stored session of one app: one JSON value under one key of the chosen storage. */
import type { TurKeyStorage } from "./storage.js";
import type { StoredSession, TokenResponse, User } from "./types.js";

export class SessionStore {
  readonly #storage: TurKeyStorage;
  readonly #key: string;
  readonly #now: () => number;

  constructor(storage: TurKeyStorage, appId: string, now: () => number) {
    this.#storage = storage;
    // One key per app: several apps on one origin keep separate sessions.
    this.#key = `turkey.${appId}.session`;
    this.#now = now;
  }

  /** Read on every use, never cached: another tab may have rotated the tokens meanwhile. */
  async read(): Promise<StoredSession | null> {
    const text = await this.#storage.getItem(this.#key);
    if (!text) return null;
    try {
      const session = JSON.parse(text) as Partial<StoredSession>;
      // Anything else in the slot (an older format, a hand edit) counts as signed out.
      const valid =
        typeof session.accessToken === "string" &&
        typeof session.refreshToken === "string" &&
        typeof session.expiresAt === "number" &&
        typeof session.user?.id === "string";
      return valid ? (session as StoredSession) : null;
    } catch {
      return null;
    }
  }

  /** Keeps a token response; the expiry is taken from `expiresIn` by this client's clock. */
  async save(tokens: TokenResponse): Promise<void> {
    await this.#write({
      user: tokens.user,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: this.#now() + tokens.expiresIn * 1000,
    });
  }

  /** Replaces the stored user when it is this session's and has changed; true if it did. */
  async saveUser(user: User): Promise<boolean> {
    const session = await this.read();
    if (session?.user.id !== user.id || JSON.stringify(session.user) === JSON.stringify(user)) return false;
    await this.#write({ ...session, user });
    return true;
  }

  /** Forgets the session; true if there was one. */
  async clear(): Promise<boolean> {
    const had = (await this.read()) !== null;
    await this.#storage.removeItem(this.#key);
    return had;
  }

  async #write(session: StoredSession): Promise<void> {
    await this.#storage.setItem(this.#key, JSON.stringify(session));
  }
}
