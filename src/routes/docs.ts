/**
 * The API describing itself: the OpenAPI document, generated from the route contracts by
 * `npm run docs:api` and checked current by the tests.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import document from "../../docs/openapi.json";
import type { AppEnv } from "../context";
import { endpoint } from "../http/contract";

const PUBLIC_CACHE = "public, max-age=300";

const openApiDocument = z.looseObject({ openapi: z.string().check(z.regex(/^3\.1\.\d+$/)) });

export const docsRoutes = new Hono<AppEnv>().get(
  "/openapi.json",
  endpoint({
    summary: "This API as an OpenAPI 3.1 document",
    responses: { 200: openApiDocument },
    headers: ["publicCache"],
  }),
  (c) => c.json(document, 200, { "Cache-Control": PUBLIC_CACHE }),
);
