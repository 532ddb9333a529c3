/**
 * Error answers in the OpenAPI document, from the one code table (src/errors.ts): each
 * status's body narrows `code` to the codes the route can answer with at that status.
 */
import type { OpenAPIV3_1 } from "openapi-types";
import * as z from "zod/mini";
import { ERRORS, type ErrorCode } from "../errors";
import { DOCUMENT_HEADERS, STATUS_TEXT } from "./openapi-parts";

type ResponseObject = OpenAPIV3_1.ResponseObject;

/** One error response per status, its `code` the enum of the given codes with that status. */
export function errorResponses(
  codes: ErrorCode[],
  shared: ResponseObject["headers"],
): Record<string, ResponseObject> {
  return Object.fromEntries(
    groupByStatus(codes).map(([status, statusCodes]) => [status, errorResponse(status, statusCodes, shared)]),
  );
}

function groupByStatus(codes: ErrorCode[]): [string, ErrorCode[]][] {
  const groups = new Map<string, ErrorCode[]>();
  for (const code of codes) {
    const status = String(ERRORS[code].status);
    groups.set(status, [...(groups.get(status) ?? []), code]);
  }
  return [...groups].sort(([a], [b]) => Number(a) - Number(b));
}

function errorResponse(
  status: string,
  codes: ErrorCode[],
  shared: ResponseObject["headers"],
): ResponseObject {
  const headers = { ...shared };
  // A code that can exceed a rate-limit window may say so, wherever it is raised.
  if (codes.some((code) => "rateLimit" in ERRORS[code]))
    Object.assign(headers, Object.fromEntries(DOCUMENT_HEADERS.rateLimit));
  const retrying = codes.filter((code) => "retryAfter" in ERRORS[code]);
  if (retrying.length > 0) {
    const all = retrying.length === codes.length;
    headers["Retry-After"] = { $ref: `#/components/headers/${all ? "RetryAfter" : "RetryAfterOptional"}` };
  }
  return {
    description: `${STATUS_TEXT[Number(status)] ?? status}: ${codes.join(", ")}`,
    headers,
    content: { "application/json": { schema: errorBodySchema(codes) } },
  };
}

/** The one error body, its `code` narrowed to the given codes. */
function errorBodySchema(codes: readonly ErrorCode[]): OpenAPIV3_1.SchemaObject {
  const body = z.strictObject({
    error: z.strictObject({
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      /** The request field at fault, on validation_failed. */
      field: z.optional(z.string()),
    }),
  });
  const { $schema: _, ...schema } = z.toJSONSchema(body, { io: "output" });
  return schema as OpenAPIV3_1.SchemaObject;
}

/** Every code with its status and default message, and the body of an error in general. */
export function errorSchemas(): Record<string, OpenAPIV3_1.SchemaObject> {
  const codes = Object.keys(ERRORS) as ErrorCode[];
  return {
    ErrorCode: {
      description:
        "Stable error codes: snake_case, never renamed. `x-status` is the HTTP status it comes with.",
      oneOf: codes.map((code) => ({
        const: code,
        description: ERRORS[code].message,
        "x-status": ERRORS[code].status,
      })),
    } as OpenAPIV3_1.SchemaObject,
    Error: errorBodySchema(codes),
  };
}
