/**
 * The API describing itself: the OpenAPI document (generated from the route contracts by
 * `npm run docs:api`, checked current by the tests) and a reference page reading it. The
 * page's script and styles are Workers Static Assets under /docs/ (Swagger UI from its npm
 * package, see scripts/docs-assets.ts), so they cost the Worker bundle nothing, need no CDN
 * and run under a Content-Security-Policy that allows this origin only.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import document from "../../docs/openapi.json";
import type { AppEnv } from "../context";
import { endpoint } from "../http/contract";

const PUBLIC_CACHE = "public, max-age=300";

// No inline script or style anywhere: Swagger UI sets styles through the DOM, and its icons
// are data: images in its stylesheet.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Turkey API reference</title>
<link rel="icon" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

const openApiDocument = z.looseObject({ openapi: z.string().check(z.regex(/^3\.1\.\d+$/)) });

export const docsRoutes = new Hono<AppEnv>()
  .get(
    "/openapi.json",
    endpoint({
      summary: "This API as an OpenAPI 3.1 document",
      responses: { 200: openApiDocument },
      headers: ["publicCache"],
    }),
    (c) => c.json(document, 200, { "Cache-Control": PUBLIC_CACHE }),
  )
  .get(
    "/docs",
    endpoint({
      summary: "A readable reference of this API (HTML)",
      responses: { 200: z.string() },
      mediaType: "text/html",
      headers: ["publicCache", "contentSecurityPolicy"],
    }),
    (c) =>
      c.html(PAGE, 200, {
        "Cache-Control": PUBLIC_CACHE,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
      }),
  );
