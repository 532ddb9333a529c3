/**
 * @turkey/sdk — the client for browsers and apps, and the token check for app backends.
 * No runtime dependencies: plain fetch and Web Storage.
 */
export { TurKeyAdmin, type TurKeyAdminOptions } from "./admin.js";
export { REFRESH_MARGIN_MS, SDK_VERSION, TurKeyClient, type TurKeyClientOptions } from "./client.js";
export { type ClientErrorCode, TurKeyError, type TurKeyErrorCode } from "./errors.js";
export { bearerToken, hasAal, TurKeyServer, type TurKeyServerOptions } from "./server.js";
export { localStorageAdapter, memoryStorage, type TurKeyStorage, type WebStorage } from "./storage.js";
export type * from "./types.js";
export type { CredentialsLike } from "./webauthn.js";
