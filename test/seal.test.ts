/** Sealing under ENCRYPTION_KEY: round trips, bindings, tampering and rotation. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../src/config";
import { keyId, open, SealError, seal } from "../src/crypto/seal";

const OLD = "an old encryption secret of at least 32 characters";
const NEW = "a new encryption secret, also at least 32 characters";
const keys = { current: NEW, previous: undefined };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("seal and open", () => {
  it("round-trips, and the sealed value reveals neither the plaintext nor the secret", async () => {
    const sealed = await seal(keys, "totp-secret", "JBSWY3DPEHPK3PXP", "app:user");
    expect(sealed).toMatch(new RegExp(`^v1\\.${keyId(NEW)}\\.[\\w-]+\\.[\\w-]+$`));
    expect(sealed).not.toContain("JBSWY3DP");
    expect(sealed).not.toContain(NEW);
    const opened = await open(keys, "totp-secret", sealed, "app:user");
    expect(text(opened.plaintext)).toBe("JBSWY3DPEHPK3PXP");
    expect(opened.stale).toBe(false);
    expect(await seal(keys, "totp-secret", "JBSWY3DPEHPK3PXP", "app:user")).not.toBe(sealed);
  });

  it("refuses another row's, another purpose's or a tampered value", async () => {
    const sealed = await seal(keys, "totp-secret", "secret", "app:user-1");
    await expect(open(keys, "totp-secret", sealed, "app:user-2")).rejects.toThrow(SealError);
    await expect(open(keys, "oauth-client-secret", sealed, "app:user-1")).rejects.toThrow(SealError);
    const flipped = `${sealed.slice(0, -2)}${sealed.at(-2) === "A" ? "B" : "A"}${sealed.at(-1)}`;
    await expect(open(keys, "totp-secret", flipped, "app:user-1")).rejects.toThrow(SealError);
    await expect(open(keys, "totp-secret", "plain text", "app:user-1")).rejects.toThrow(SealError);
  });

  it("opens values of the previous secret after a rotation, and says they are stale", async () => {
    const sealed = await seal({ current: OLD, previous: undefined }, "signing-key", "{}", "kid-1");
    const rotated = { current: NEW, previous: OLD };
    expect(await open(rotated, "signing-key", sealed, "kid-1")).toMatchObject({ stale: true });
    await expect(open(keys, "signing-key", sealed, "kid-1")).rejects.toThrow(/unknown ENCRYPTION_KEY/);
  });

  it("needs ENCRYPTION_KEY", async () => {
    const none = { current: undefined, previous: undefined };
    await expect(seal(none, "totp-secret", "x", "c")).rejects.toThrow(ConfigError);
    const sealed = await seal(keys, "totp-secret", "x", "c");
    await expect(open(none, "totp-secret", sealed, "c")).rejects.toThrow(ConfigError);
  });
});
