/**
 * turkey/sdk — the client for browsers and apps, and the token check for app backends.
 * No runtime dependencies: plain fetch and Web Storage.
 */
export { REFRESH_MARGIN_MS, SDK_VERSION, TurKeyClient, type TurKeyClientOptions } from "./client";
export { type ClientErrorCode, TurKeyError, type TurKeyErrorCode } from "./errors";
export { bearerToken, TurKeyServer, type TurKeyServerOptions } from "./server";
export { localStorageAdapter, memoryStorage, type TurKeyStorage, type WebStorage } from "./storage";
export type * from "./types";
