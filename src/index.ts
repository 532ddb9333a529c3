/** The Worker entry: HTTP through the Hono app, Cron Triggers through `scheduled`. */
import { createApp } from "./app";
import type { Bindings } from "./context";
import { runScheduledCleanup } from "./cron";

export { RateLimiter } from "./rate-limit/limiter";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduledCleanup(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Bindings>;
