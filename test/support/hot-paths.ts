/**
 * The statements a session's life sends — register, login, refresh (a real one and an
 * unknown token), me, introspect checked against the database, logout-all (end-sessions) —
 * served once each through the real app. The plan test and the scale bench both EXPLAIN
 * what these send; neither needs mail.
 */
import { expect } from "vitest";
import { client, type TestApp, uniqueEmail } from "./fixtures";
import { postJson, send } from "./worker";

export async function serveSessionHotPaths(app: TestApp, appId: string): Promise<string> {
  const api = client(app, appId);
  const email = uniqueEmail();
  const tokens = await api.register(email);
  await api.login(email);
  const refreshed = await api.post("/v1/auth/refresh", { refreshToken: tokens.refreshToken });
  expect(refreshed.status).toBe(200);
  await api.post("/v1/auth/refresh", { refreshToken: "no-such-token" });
  await api.get("/v1/auth/me", tokens.accessToken);
  const introspected = await send(
    app,
    "/v1/auth/introspect",
    postJson({ token: tokens.accessToken }, { "x-app-id": appId }),
    { REVOCATION_CHECK: "db" },
  );
  expect(introspected.status).toBe(200);
  const again = await api.login(email);
  expect((await api.post("/v1/auth/logout-all", {}, again.accessToken)).status).toBe(204);
  return email;
}
