import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import committed from "../docs/openapi.json";
import { createApp } from "../src/app";
import type { AppEnv } from "../src/context";
import { send } from "./support/worker";

const app = createApp();

describe("GET /openapi.json", () => {
  it("serves the generated document", async () => {
    const response = await send(app, "/openapi.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
    expect(await response.json()).toEqual(committed);
  });
});

describe("GET /docs", () => {
  it("serves a page whose scripts and styles are files of this origin, under a strict CSP", async () => {
    const response = await send(app, "/docs");
    expect(response.status).toBe(200);
    const policy = response.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).not.toContain("unsafe");
    const html = await response.text();
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((match) => match[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const attributes of scripts) expect(attributes).toMatch(/^ src="\/docs\/[\w.-]+\.js"$/);
    expect(html).not.toContain("style=");
  });
});

describe("the response check on send()", () => {
  it("fails a test whose answer the document does not describe", async () => {
    const rogue = new Hono<AppEnv>();
    // A documented path answering a status and code it does not list.
    rogue.get("/v1/auth/me", (c) => c.json({ error: { code: "email_taken", message: "…" } }, 409));
    // A path the document does not know, answering something that is not an error.
    rogue.get("/teapot", (c) => c.json({ tea: true }, 418));
    await expect(send(rogue, "/v1/auth/me")).rejects.toThrow(
      /status 409 is not listed \(error code email_taken\)/,
    );
    await expect(send(rogue, "/teapot")).rejects.toThrow(
      /unlisted path answered a body that is not an error/,
    );
  });
});
