/**
 * The WebAuthn responses a browser sends back, in their JSON form (PublicKeyCredential.toJSON(),
 * binary values base64url). Only the shape is checked here; the signature checks live in src/passkeys.
 */
import * as z from "zod/mini";

const base64url = z.string().check(z.regex(/^[A-Za-z0-9_-]*$/, "must be base64url"), z.maxLength(4096));
const credentialId = base64url.check(z.minLength(1), z.maxLength(1024));

const common = {
  id: credentialId,
  rawId: credentialId,
  type: z.literal("public-key"),
  authenticatorAttachment: z.optional(z.string().check(z.maxLength(32))),
  clientExtensionResults: z._default(z.record(z.string(), z.unknown()), {}),
};

export const registrationResponse = z
  .object({
    ...common,
    response: z.object({
      clientDataJSON: base64url,
      attestationObject: base64url,
      transports: z.optional(z.array(z.string().check(z.maxLength(32))).check(z.maxLength(8))),
      authenticatorData: z.optional(base64url),
      publicKeyAlgorithm: z.optional(z.number()),
      publicKey: z.optional(base64url),
    }),
  })
  .check(z.meta({ description: "The new credential, as PublicKeyCredential.toJSON() gives it." }));

export const authenticationResponse = z
  .object({
    ...common,
    response: z.object({
      clientDataJSON: base64url,
      authenticatorData: base64url,
      signature: base64url,
      userHandle: z.optional(base64url),
    }),
  })
  .check(z.meta({ description: "The signed assertion, as PublicKeyCredential.toJSON() gives it." }));
