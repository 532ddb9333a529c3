/** The app registry's isolate cache: unknown ids, which anyone can send, never evict real apps. */
import { beforeEach, describe, expect, it } from "vitest";
import { type App, findApp, forgetApps } from "../src/apps/registry";
import type { Database } from "../src/db";

/** A registry table of the given apps that counts the queries it answers. */
function registryOf(apps: App[]) {
  let queries = 0;
  const db = {
    select: () => ({
      from: () => ({
        where: async () => {
          queries++;
          return lastAsked ? apps.filter((app) => app.id === lastAsked) : [];
        },
      }),
    }),
  } as unknown as Database;
  let lastAsked: string | undefined;
  return {
    find: (appId: string, nowMs = 0) => {
      lastAsked = appId;
      return findApp(db, appId, nowMs);
    },
    queries: () => queries,
  };
}

const shop: App = {
  id: "shop",
  name: "Shop",
  url: "https://shop.example",
  emailLogin: false,
  emailSignup: false,
  hostedPages: false,
};

beforeEach(() => forgetApps());

describe("findApp", () => {
  it("asks the database once per app while cached", async () => {
    const registry = registryOf([shop]);
    expect(await registry.find("shop")).toEqual(shop);
    expect(await registry.find("shop")).toEqual(shop);
    expect(await registry.find("nope")).toBeUndefined();
    expect(await registry.find("nope")).toBeUndefined();
    expect(registry.queries()).toBe(2);
    expect(await registry.find("shop", 31_000)).toEqual(shop);
    expect(registry.queries()).toBe(3);
  });

  it("keeps a known app cached however many unknown ids are sent", async () => {
    const registry = registryOf([shop]);
    await registry.find("shop");
    for (let i = 0; i < 20_000; i++) await registry.find(`ghost-${i}`);
    const before = registry.queries();
    expect(await registry.find("shop")).toEqual(shop);
    expect(registry.queries()).toBe(before);
  });
});
