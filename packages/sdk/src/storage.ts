/**
 * Where the client keeps its session. The interface is the Web Storage one (so `localStorage`
 * itself fits), with promises allowed for async stores such as React Native's.
 */

export interface TurKeyStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

/**
 * Keeps the session in memory: gone on reload, never readable by other scripts' storage
 * access. The default.
 *
 * @example
 * const turkey = new TurKeyClient({ baseUrl, appId: "admin-dashboard", storage: memoryStorage() });
 */
export function memoryStorage(): TurKeyStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => {
      items.set(key, value);
    },
    removeItem: (key) => {
      items.delete(key);
    },
  };
}

/** The synchronous Web Storage API, as `localStorage` and `sessionStorage` implement it. */
export interface WebStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Keeps the session in `localStorage`, so it survives reloads and is shared by the tabs of
 * one origin. Where storage is unavailable or throws (site data blocked, quota full, some
 * private modes) the session is kept in memory instead, so sign-in still works for the
 * page's lifetime.
 *
 * @param storage - The Web Storage to use; `globalThis.localStorage` by default.
 * @example
 * import { TurKeyClient, localStorageAdapter } from "@turkey/sdk";
 * const turkey = new TurKeyClient({ baseUrl, appId: "customer-portal", storage: localStorageAdapter() });
 */
export function localStorageAdapter(storage?: WebStorage): TurKeyStorage {
  // Holds only what the real storage refused, so it never masks other tabs' writes.
  const refused = new Map<string, string>();
  const target = (): WebStorage | undefined =>
    storage ?? (globalThis as { localStorage?: WebStorage }).localStorage;
  return {
    getItem: (key) => refused.get(key) ?? attempt(() => target()?.getItem(key) ?? null, null),
    setItem: (key, value) => {
      const stored = attempt(() => {
        const web = target();
        web?.setItem(key, value);
        return web !== undefined;
      }, false);
      if (stored) {
        refused.delete(key);
        return;
      }
      refused.set(key, value);
      // The older value must not resurface from storage while the memory copy is current.
      attempt(() => target()?.removeItem(key), undefined);
    },
    removeItem: (key) => {
      refused.delete(key);
      attempt(() => target()?.removeItem(key), undefined);
    },
  };
}

/** Runs a storage access; a throw (SecurityError, QuotaExceededError) gives the fallback. */
function attempt<T>(access: () => T, fallback: T): T {
  try {
    return access();
  } catch {
    return fallback;
  }
}
