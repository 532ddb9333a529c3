/** Request fields shared by the /v1/auth routes. */
import * as z from "zod/mini";

export const email = z
  .pipe(z.string().check(z.trim(), z.maxLength(254)), z.email("must be an email address"))
  .check(z.meta({ format: "email", description: "Trimmed; compared case-insensitively." }));
export const password = z
  .string("must be a string")
  .check(z.meta({ description: "PASSWORD_MIN_LENGTH (8 unless configured) to 128 characters." }));
export const opaqueToken = z.string().check(z.minLength(1), z.maxLength(512));
// Shown back to the user and to app backends; one line, no control or invisible format characters.
const NAME_MAX_CHARACTERS = 100;
export const name = z.string().check(
  z.trim(),
  z.refine(
    (text) => [...text].length <= NAME_MAX_CHARACTERS,
    `must have at most ${NAME_MAX_CHARACTERS} characters`,
  ),
  z.regex(/^[^\p{C}\p{Zl}\p{Zp}]*$/u, "must be one line of printable characters"),
);
/** RFC 7636: 43 to 128 unreserved characters, of which the S256 challenge is the hash. */
export const codeVerifier = z
  .string()
  .check(
    z.regex(/^[A-Za-z0-9._~-]{43,128}$/, "must be 43 to 128 unreserved characters (RFC 7636)"),
    z.meta({ description: "The PKCE code verifier (RFC 7636) the page kept." }),
  );
/** BASE64URL(SHA-256(code_verifier)), without padding. */
export const codeChallenge = z
  .string()
  .check(
    z.regex(/^[A-Za-z0-9_-]{43}$/, "must be an S256 code challenge (43 base64url characters)"),
    z.meta({ description: "BASE64URL(SHA-256(code verifier)), RFC 7636 S256." }),
  );
