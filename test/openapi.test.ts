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
