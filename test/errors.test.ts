import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { ERRORS } from "../src/errors";
import { send } from "./support/worker";

const app = createApp();
// A route that fails the way a bug would: its message must never reach the client.
app.get("/boom", () => {
  throw new Error("relation users has column password_hash at /src/secret.ts:12");
});

async function errorOf(response: Response) {
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(["error"]);
  return body.error;
}

describe("error responses", () => {
  it("answer unknown routes with a JSON not_found", async () => {
    const response = await send(app, "/nope");
    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe("not_found");
  });

  it("answer a broken body on an unknown /v1 route with a JSON 4xx", async () => {
    // /v1 routes first ask which app is calling, so the answer is unknown_app.
    const response = await send(app, "/v1/anything", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect((await errorOf(response)).code).toBe("unknown_app");
  });

  it("refuse bodies over 16 KiB with payload_too_large", async () => {
    const response = await send(app, "/v1/anything", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ padding: "x".repeat(17 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe("payload_too_large");
  });

  it("turn an unexpected failure into internal_error without its details", async () => {
    const response = await send(app, "/boom");
    expect(response.status).toBe(500);
    const error = await errorOf(response);
    expect(error).toEqual({ code: "internal_error", message: ERRORS.internal_error.message });
  });

  it("answer configuration_error, naming nothing, when the variables are invalid", async () => {
    const response = await send(app, "/health", {}, { JWT_ACCESS_EXPIRES_IN: "soon" });
    expect(response.status).toBe(500);
    expect((await errorOf(response)).code).toBe("configuration_error");
  });
});

describe("the code table", () => {
  it("uses snake_case codes with client or server statuses", () => {
    for (const [code, { status, message }] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(message.length).toBeGreaterThan(0);
    }
  });
});

describe("describeError", () => {
  it("never repeats a failed query's parameters", async () => {
    const { describeError } = await import("../src/log");
    const cause = Object.assign(new Error('column "x" does not exist'), { code: "42703" });
    const error = new Error("Failed query: insert into users values ($1)\nparams: $scrypt$ln=14,secret", {
      cause,
    });
    const described = JSON.stringify(describeError(error));
    expect(described).not.toContain("scrypt");
    expect(described).not.toContain("params");
    expect(describeError(error)).toEqual({
      errorName: "QueryError",
      errorMessage: 'column "x" does not exist',
      errorCode: "42703",
    });
  });
});
