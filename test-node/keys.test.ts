/**
 * `gravy keys …` against a real database: stored keys are sealed under ENCRYPTION_KEY, and
 * `keys rotate-encryption` re-seals every sealed value under a new secret without losing one.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { keyId, open, seal } from "../src/crypto/seal";
import { gravy, gravyJson, query, scratchDatabase } from "./support/gravy";

const url = await scratchDatabase({ migrated: true });
const OLD = "the-encryption-key-before-the-rotation-0123456789";
const NEW = "the-encryption-key-after-the-rotation-9876543210";

interface Listed {
  keys: { kid: string; alg: string; state: string }[];
}

async function sealedValues(): Promise<{ kid: string; sealed: string }[]> {
  return query(url, "select kid, private_sealed as sealed from signing_keys order by kid");
}

/** Every stored private key, opened with exactly these secrets. */
async function openAll(current: string): Promise<Map<string, string>> {
  const opened = new Map<string, string>();
  for (const { kid, sealed } of await sealedValues()) {
    const { plaintext } = await open({ current, previous: undefined }, "signing-key", sealed, kid);
    opened.set(kid, new TextDecoder().decode(plaintext));
  }
  return opened;
}

describe("gravy keys", () => {
  it("rotate creates a sealed next key; a second waits until the first is promoted", async () => {
    const env = { DATABASE_URL: url, ENCRYPTION_KEY: OLD };
    const first = await gravyJson<{ next: { kid: string; alg: string } }>(["keys", "rotate"], env);
    expect(first.next.alg).toBe("ES256");
    const refused = await gravy(["keys", "rotate"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already waiting/);

    await query(url, "update signing_keys set state = 'current', activated_at = now()");
    const second = await gravyJson<{ next: { kid: string; alg: string } }>(
      ["keys", "rotate", "--alg", "EdDSA"],
      env,
    );
    expect(second.next.alg).toBe("EdDSA");
    const listed = await gravyJson<Listed>(["keys", "list"], env);
    expect(listed.keys.map(({ kid, state }) => [kid, state])).toEqual([
      [second.next.kid, "next"],
      [first.next.kid, "current"],
    ]);
    // The private halves are sealed, bound to their kid, never stored in the clear.
    for (const { sealed } of await sealedValues())
      expect(sealed).toMatch(new RegExp(`^v1\\.${keyId(OLD)}\\.`));
    expect((await openAll(OLD)).size).toBe(2);
  });

  it("import stores JWT_PRIVATE_KEY as the next key, under its thumbprint", async () => {
    await query(url, "update signing_keys set state = 'retired', retired_at = now() where state = 'current'");
    await query(url, "update signing_keys set state = 'current', activated_at = now() where state = 'next'");
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = await exportJWK(privateKey);
    const env = { DATABASE_URL: url, ENCRYPTION_KEY: OLD, JWT_PRIVATE_KEY: JSON.stringify(jwk) };
    const imported = await gravyJson<{ next: { kid: string } }>(["keys", "import"], env);
    expect(imported.next.kid).toBe(
      await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }),
    );
    expect(JSON.parse((await openAll(OLD)).get(imported.next.kid) ?? "{}")).toMatchObject({ d: jwk.d });
  });

  it("rotate-encryption re-seals every value under the new secret, and nothing is lost", async () => {
    const before = await openAll(OLD);
    expect(before.size).toBe(3);
    // A TOTP secret too, sealed as src/mfa/factors.ts seals it.
    const added = await gravy(
      ["app", "add", "keys-app", "--name", "Keys", "--url", "https://keys.example.com"],
      {
        DATABASE_URL: url,
      },
    );
    expect(added.code).toBe(0);
    const [user] = await query<{ id: string }>(
      url,
      "insert into users (app_id, email, password_hash) values ('keys-app', 'k@example.com', 'x') returning id",
    );
    const factorId = crypto.randomUUID();
    const context = `keys-app/${user?.id}/${factorId}`;
    const secret = new TextEncoder().encode("JBSWY3DPEHPK3PXP");
    await query(
      url,
      "insert into mfa_factors (id, app_id, user_id, kind, secret_sealed) values ($1, 'keys-app', $2, 'totp', $3)",
      [factorId, user?.id, await seal({ current: OLD, previous: undefined }, "totp-secret", secret, context)],
    );
    const env = { DATABASE_URL: url, ENCRYPTION_KEY: NEW, ENCRYPTION_KEY_PREVIOUS: OLD };
    const result = await gravyJson<{ columns: { table: string; resealed: number; failed: number }[] }>(
      ["keys", "rotate-encryption"],
      env,
    );
    expect(result.columns).toEqual([
      { table: "signing_keys", column: "private_sealed", resealed: 3, failed: 0 },
      { table: "mfa_factors", column: "secret_sealed", resealed: 1, failed: 0 },
      // Social sign-in client secrets: none stored here (test-node/oauth.test.ts reseals one).
      { table: "oauth_providers", column: "client_secret_sealed", resealed: 0, failed: 0 },
    ]);
    const [factor] = await query<{ sealed: string }>(url, "select secret_sealed as sealed from mfa_factors");
    const reopened = await open(
      { current: NEW, previous: undefined },
      "totp-secret",
      factor?.sealed ?? "",
      context,
    );
    expect(new TextDecoder().decode(reopened.plaintext)).toBe("JBSWY3DPEHPK3PXP");
    for (const { sealed } of await sealedValues())
      expect(sealed).toMatch(new RegExp(`^v1\\.${keyId(NEW)}\\.`));
    // The new secret alone opens every value, to exactly what the old one did.
    expect(await openAll(NEW)).toEqual(before);
    const again = await gravyJson<{ columns: { resealed: number }[] }>(["keys", "rotate-encryption"], env);
    expect(again.columns[0]?.resealed).toBe(0);
  });

  it("rotate-encryption leaves a value that opens under neither secret as it is, and says so", async () => {
    const [victim] = await sealedValues();
    const foreign = victim?.sealed.replace(/^v1\.[0-9a-f]{8}\./, "v1.00000000.") ?? "";
    await query(url, "update signing_keys set private_sealed = $1 where kid = $2", [foreign, victim?.kid]);
    const env = { DATABASE_URL: url, ENCRYPTION_KEY: OLD, ENCRYPTION_KEY_PREVIOUS: NEW };
    const result = await gravy(["keys", "rotate-encryption"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("1 value(s) opened under neither secret");
    const [after] = await query<{ sealed: string }>(
      url,
      "select private_sealed as sealed from signing_keys where kid = $1",
      [victim?.kid],
    );
    expect(after?.sealed).toBe(foreign);
  });

  it("refuses to run without the secrets it needs, naming them", async () => {
    const noKey = await gravy(["keys", "rotate"], { DATABASE_URL: url });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain("ENCRYPTION_KEY");
    const noPrevious = await gravy(["keys", "rotate-encryption"], { DATABASE_URL: url, ENCRYPTION_KEY: NEW });
    expect(noPrevious.code).toBe(1);
    expect(noPrevious.stderr).toContain("ENCRYPTION_KEY_PREVIOUS");
    const badAlg = await gravy(["keys", "rotate", "--alg", "RS256"], {
      DATABASE_URL: url,
      ENCRYPTION_KEY: NEW,
    });
    expect(badAlg).toMatchObject({ code: 1, stderr: "--alg must be ES256 or EdDSA\n" });
  });
});
