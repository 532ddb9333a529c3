/**
 * The OpenAPI document: valid OpenAPI 3.1, generated from the route contracts and checked in
 * current (docs/openapi.json, docs/api.md), with the error codes, headers and credentials each
 * route's middleware brings. The response check the worker suites rely on must refuse what the
 * document does not describe.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { OpenAPIV3_1 } from "openapi-types";
import { beforeAll, describe, expect, it } from "vitest";
import { renderApiReference } from "../scripts/docs-api";
import { createApp } from "../src/app";
import { buildOpenApiDocument } from "../src/http/openapi";
import { createResponseChecker, type Exchange } from "../test/support/response-check";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

let document: OpenAPIV3_1.Document;
beforeAll(async () => {
  document = await buildOpenApiDocument(createApp());
});

type Operation = OpenAPIV3_1.OperationObject;

function operation(method: "get" | "post" | "delete", route: string): Operation {
  const found = document.paths?.[route]?.[method];
  if (!found) throw new Error(`${method} ${route} is not in the document`);
  return found;
}

function codesAt(op: Operation, status: number): string[] {
  const response = op.responses?.[String(status)] as OpenAPIV3_1.ResponseObject | undefined;
  const schema = response?.content?.["application/json"]?.schema as OpenAPIV3_1.SchemaObject | undefined;
  const error = schema?.properties?.error as OpenAPIV3_1.SchemaObject | undefined;
  return ((error?.properties?.code as OpenAPIV3_1.SchemaObject | undefined)?.enum ?? []) as string[];
}

function headerAt(op: Operation, status: number, name: string) {
  return (op.responses?.[String(status)] as OpenAPIV3_1.ResponseObject | undefined)?.headers?.[name];
}

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    const result = await new Validator().validate(structuredClone(document));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe("3.1.0");
  });

  it("is checked in as generated: docs/openapi.json and docs/api.md (npm run docs:api)", async () => {
    for (const [file, expected] of Object.entries(await renderApiReference())) {
      const actual = await readFile(path.join(ROOT, file), "utf8").catch(() => "(missing)");
      expect(actual, `${file} is stale: run npm run docs:api`).toBe(expected);
    }
  });

  it("refuses to leave out a route that declares no contract", async () => {
    const app = createApp();
    app.get("/undeclared", (c) => c.text("hi"));
    await expect(buildOpenApiDocument(app)).rejects.toThrow(/GET \/undeclared/);
  });

  it("lists the codes the route's middleware brings, by status", () => {
    const login = operation("post", "/v1/auth/login");
    expect(codesAt(login, 400)).toEqual(["unknown_app", "invalid_json", "validation_failed"]);
    expect(codesAt(login, 429)).toEqual(["rate_limited", "too_many_attempts"]);
    expect(codesAt(login, 500)).toEqual(["configuration_error", "internal_error"]);
    expect(codesAt(login, 503)).toEqual(["database_unavailable", "temporarily_unavailable"]);
    const me = operation("get", "/v1/auth/me");
    expect(codesAt(me, 401)).toEqual(["token_missing", "token_invalid", "token_expired", "token_revoked"]);
    expect(codesAt(operation("delete", "/v1/auth/sessions/{id}"), 404)).toEqual(["not_found"]);
  });

  it("gives body errors only to routes that read a body, and 413 only where a body can be sent", () => {
    const logoutAll = operation("post", "/v1/auth/logout-all");
    expect(codesAt(logoutAll, 400)).toEqual(["unknown_app"]);
    expect(logoutAll.responses?.["415"]).toBeUndefined();
    expect(codesAt(logoutAll, 413)).toEqual(["payload_too_large"]);
    expect(operation("get", "/v1/auth/me").responses?.["413"]).toBeUndefined();
    expect(operation("get", "/health").responses?.["413"]).toBeUndefined();
  });

  it("names the credentials: X-App-Id on /v1, a bearer token on top where needed", () => {
    expect(document.components?.securitySchemes?.appId).toMatchObject({ type: "apiKey", name: "X-App-Id" });
    expect(operation("post", "/v1/auth/login").security).toEqual([{ appId: [] }]);
    expect(operation("get", "/v1/auth/sessions").security).toEqual([{ appId: [], bearer: [] }]);
    expect(operation("get", "/health").security).toBeUndefined();
  });

  it("describes the headers: Retry-After on 429, RateLimit-* on rate-limited routes, Cache-Control", () => {
    const login = operation("post", "/v1/auth/login");
    expect(headerAt(login, 429, "Retry-After")).toEqual({ $ref: "#/components/headers/RetryAfter" });
    expect(headerAt(login, 200, "RateLimit-Remaining")).toBeDefined();
    expect(headerAt(login, 400, "Cache-Control")).toEqual({ $ref: "#/components/headers/NoStore" });
    expect(headerAt(operation("get", "/v1/auth/me"), 200, "RateLimit-Remaining")).toBeUndefined();
    const health = operation("get", "/health");
    expect(headerAt(health, 200, "Cache-Control")).toBeDefined();
    // Set by the handler, so not on an error raised before it runs.
    expect(headerAt(health, 500, "Cache-Control")).toBeUndefined();
  });
});

describe("the response check", () => {
  const json = { "content-type": "application/json", "cache-control": "no-store" };
  const error = (code: string) => JSON.stringify({ error: { code, message: "…" } });
  let check: (exchange: Exchange) => string[];
  beforeAll(async () => {
    check = await createResponseChecker(document);
  });

  it("passes what the document describes", () => {
    const login = { method: "POST", path: "/v1/auth/login", headers: json };
    expect(check({ ...login, status: 401, body: error("invalid_credentials") })).toEqual([]);
    expect(
      check({ method: "GET", path: "/nowhere", status: 404, headers: json, body: error("not_found") }),
    ).toEqual([]);
  });

  it("refuses a status, a code, a field or a header the document does not list", () => {
    const login = { method: "POST", path: "/v1/auth/login", headers: json };
    expect(check({ ...login, status: 418, body: error("invalid_credentials") })).toEqual([
      "status 418 is not listed (error code invalid_credentials)",
    ]);
    expect(check({ ...login, status: 401, body: error("email_taken") }).join()).toMatch(/code must be equal/);
    const health = { status: "healthy", database: "connected", uptime: "0s", uptimeSeconds: 0, version: "1" };
    const body = JSON.stringify({ ...health, lastCleanupAt: null, secret: "x" });
    expect(check({ method: "GET", path: "/health", status: 200, headers: json, body }).join()).toMatch(
      /additional properties/,
    );
    const throttled = { ...login, status: 429, body: error("rate_limited") };
    expect(check(throttled)).toEqual(["header retry-after is missing"]);
    const withRetry = { ...json, "retry-after": "3" };
    expect(check({ ...login, status: 401, headers: withRetry, body: error("invalid_credentials") })).toEqual([
      "header retry-after is not listed",
    ]);
    expect(
      check({ method: "GET", path: "/nowhere", status: 400, headers: json, body: error("not_found") }),
    ).toEqual(["not_found came with status 400, not 404"]);
  });
});
