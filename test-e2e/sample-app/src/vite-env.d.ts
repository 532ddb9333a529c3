// What Vite's own `vite/client` types declare for these two variables; the sample app keeps
// only `@turkey/sdk` in its node_modules, so it declares them itself.
interface ImportMetaEnv {
  readonly VITE_TURKEY_URL: string;
  readonly VITE_TURKEY_APP_ID: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
