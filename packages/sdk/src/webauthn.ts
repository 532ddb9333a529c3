/**
 * The browser half of passkeys: Turkey's options (JSON, binary values base64url) become the
 * ArrayBuffers navigator.credentials wants, and the credential it returns becomes JSON again.
 * Done by hand, without a WebAuthn library, to keep the SDK small.
 */
import { TurKeyError } from "./errors.js";

/** navigator.credentials, or a stand-in (tests, embedded browsers). */
export interface CredentialsLike {
  create(options: { publicKey: object }): Promise<unknown>;
  get(options: { publicKey: object }): Promise<unknown>;
}

/** The parts of a PublicKeyCredential read here (typed here: the SDK builds without DOM types too). */
interface PublicKeyCredentialLike {
  id: string;
  rawId: ArrayBuffer;
  type: string;
  authenticatorAttachment?: string | null;
  response: {
    clientDataJSON: ArrayBuffer;
    attestationObject?: ArrayBuffer;
    getTransports?(): string[];
    authenticatorData: ArrayBuffer;
    signature: ArrayBuffer;
    userHandle?: ArrayBuffer | null;
  };
  getClientExtensionResults?(): object;
}

type Json = Record<string, unknown>;
type Descriptor = { id: string } & Json;

export function toBase64Url(bytes: ArrayBuffer | Uint8Array): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
}

const decodeIds = (list: unknown) =>
  ((list as Descriptor[] | undefined) ?? []).map((item) => ({ ...item, id: fromBase64Url(item.id) }));

/** navigator.credentials.create / get with Turkey's options; answers the credential as JSON. */
export async function runCeremony(
  credentials: CredentialsLike | undefined,
  kind: "create" | "get",
  options: Json & { challenge: string; user?: Descriptor },
): Promise<Json> {
  if (!credentials) {
    throw new TurKeyError({
      code: "passkey_unavailable",
      status: 0,
      message: "This browser has no passkeys",
    });
  }
  const publicKey = {
    ...options,
    challenge: fromBase64Url(options.challenge),
    ...(options.user
      ? {
          user: { ...options.user, id: fromBase64Url(options.user.id) },
          excludeCredentials: decodeIds(options.excludeCredentials),
        }
      : { allowCredentials: decodeIds(options.allowCredentials) }),
  };
  const credential = (await credentials[kind]({ publicKey })) as PublicKeyCredentialLike | null;
  if (!credential) {
    throw new TurKeyError({ code: "passkey_unavailable", status: 0, message: "No passkey was chosen" });
  }
  return credentialJson(credential);
}

function credentialJson(credential: PublicKeyCredentialLike): Json {
  const { response } = credential;
  const fields: Json = { clientDataJSON: toBase64Url(response.clientDataJSON) };
  if (response.attestationObject) {
    fields.attestationObject = toBase64Url(response.attestationObject);
    fields.transports = response.getTransports?.() ?? [];
  } else {
    fields.authenticatorData = toBase64Url(response.authenticatorData);
    fields.signature = toBase64Url(response.signature);
    if (response.userHandle) fields.userHandle = toBase64Url(response.userHandle);
  }
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    response: fields,
    clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
    ...(credential.authenticatorAttachment
      ? { authenticatorAttachment: credential.authenticatorAttachment }
      : {}),
  };
}
