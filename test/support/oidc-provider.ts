/**
 * A real OpenID Connect provider (the certified `oidc-provider` package) on a local port, with
 * its development login and consent pages: any login and password sign in, as the account
 * whose id is the login, with the email `<login>@oidc.test` (verified). Used by the workerd
 * suite (driving the pages over HTTP) and by the browser check (a person filling them in).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface OidcClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface RunningProvider {
  issuer: string;
  close(): Promise<void>;
}

export const ACCOUNT_EMAIL_DOMAIN = "oidc.test";

export async function startOidcProvider(clients: OidcClient[], port = 0): Promise<RunningProvider> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: clients.map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uris: client.redirectUris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
    })),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    cookies: { keys: [crypto.randomUUID()] },
    features: { devInteractions: { enabled: true } },
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, email: `${id}@${ACCOUNT_EMAIL_DOMAIN}`, email_verified: true, name: id }),
    }),
    pkce: { required: () => true },
  });
  // The provider's own warnings about development settings are expected here.
  provider.on("server_error", (_ctx, error) => console.error("oidc-provider:", error));
  server.on("request", provider.callback());
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
