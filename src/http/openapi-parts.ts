/** The fixed parts of the OpenAPI document: headers, security schemes, status texts. */
import type { OpenAPIV3_1 } from "openapi-types";
import type { HeaderName, SchemeName } from "./contract";

type Ref = OpenAPIV3_1.ReferenceObject;

const ref = (name: string): Ref => ({ $ref: `#/components/headers/${name}` });

const seconds = (description: string, required: boolean): OpenAPIV3_1.HeaderObject => ({
  description,
  required,
  schema: { type: "integer", minimum: 0 },
});

const retryAfter = "Seconds to wait before trying again.";
// Rate-limit headers are absent when the limiter cannot be reached: it fails open.
const rateLimit = "Absent when the rate limiter cannot be reached (requests are then served).";

export const COMPONENT_HEADERS: Record<string, OpenAPIV3_1.HeaderObject> = {
  NoStore: {
    description: "Tokens and user data never sit in a shared or browser cache.",
    required: true,
    schema: { type: "string", enum: ["no-store"] },
  },
  PublicCache: {
    description: "Public, and cacheable for a few minutes.",
    required: true,
    schema: { type: "string", pattern: "^public, max-age=\\d+$" },
  },
  RateLimitLimit: seconds(`Requests allowed per window for this app and client address. ${rateLimit}`, false),
  RateLimitRemaining: seconds(`Requests left in the current window. ${rateLimit}`, false),
  RateLimitReset: seconds(`Seconds until the current window ends. ${rateLimit}`, false),
  RetryAfter: seconds(retryAfter, true),
  RetryAfterOptional: seconds(`${retryAfter} Sent with the codes that say to retry later.`, false),
  ContentSecurityPolicy: {
    description: "The page loads scripts, styles and data from this origin only; no inline script.",
    required: true,
    schema: { type: "string" },
  },
  ContentDisposition: {
    description: "A download: browsers save the body as this file.",
    required: true,
    schema: { type: "string", pattern: '^attachment; filename="[A-Za-z0-9._-]+"$' },
  },
};

/** The headers each declared name stands for, as they appear in responses. */
export const DOCUMENT_HEADERS: Record<HeaderName, [string, Ref][]> = {
  noStore: [["Cache-Control", ref("NoStore")]],
  publicCache: [["Cache-Control", ref("PublicCache")]],
  rateLimit: [
    ["RateLimit-Limit", ref("RateLimitLimit")],
    ["RateLimit-Remaining", ref("RateLimitRemaining")],
    ["RateLimit-Reset", ref("RateLimitReset")],
  ],
  contentSecurityPolicy: [["Content-Security-Policy", ref("ContentSecurityPolicy")]],
  contentDisposition: [["Content-Disposition", ref("ContentDisposition")]],
};

export const SECURITY_SCHEMES: Record<SchemeName, OpenAPIV3_1.SecuritySchemeObject> = {
  appId: {
    type: "apiKey",
    in: "header",
    name: "X-App-Id",
    description: "The calling app's id, as registered with `gravy app add`; required on every /v1 call.",
  },
  bearer: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "An access token (JWT) issued to the calling app by register, login or refresh.",
  },
  appKey: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "tk_<appId>_<key>",
    description:
      "An app key (`gravy app key create`), for app backends. It names its app, so X-App-Id may be left out; if sent, it must be the key's app.",
  },
  appKeyBasic: {
    type: "http",
    scheme: "basic",
    description:
      "An app key as HTTP Basic credentials: the app id as user name, the key as password (OAuth clients).",
  },
};

export const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};
