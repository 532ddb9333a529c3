/** Arranging app keys in worker tests: created as `gravy app key create` does, by SQL. */
import { generateAppKey, hashAppKey } from "../../src/admin/app-keys";
import { appKeys } from "../../src/db/schema";
import type { TestApp } from "./fixtures";
import { openTestDatabase, send } from "./worker";

export async function createAppKey(appId: string, name = "backend"): Promise<{ id: string; key: string }> {
  const key = generateAppKey(appId);
  const handle = openTestDatabase();
  try {
    const [row] = await handle.db
      .insert(appKeys)
      .values({ appId, name, keyHash: hashAppKey(key) })
      .returning({ id: appKeys.id });
    if (!row) throw new Error("no key row");
    return { id: row.id, key };
  } finally {
    await handle.close();
  }
}

export function basic(appId: string, key: string): string {
  return `Basic ${btoa(`${appId}:${key}`)}`;
}

/** Calls /v1/admin with an app key as Bearer (no X-App-Id: the key names its app). */
export function admin(app: TestApp, key: string, headers: Record<string, string> = {}) {
  const auth = { authorization: `Bearer ${key}`, ...headers };
  return {
    get: (path: string) => send(app, `/v1/admin${path}`, { headers: auth }),
    post: (path: string) => send(app, `/v1/admin${path}`, { method: "POST", headers: auth }),
    delete: (path: string) => send(app, `/v1/admin${path}`, { method: "DELETE", headers: auth }),
  };
}
