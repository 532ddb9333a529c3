/**
 * Turkey's Argon2id against an independent implementation: @node-rs/argon2 (the Rust argon2
 * crate, not the reference C code Turkey runs). Hashes go both ways as PHC strings, and the
 * known answers the workerd suite checks are confirmed here by that implementation.
 */
import { createHmac } from "node:crypto";
import { argon2id } from "@noble/hashes/argon2.js";
import { hash, hashRaw, verify } from "@node-rs/argon2";
import { describe, expect, it } from "vitest";
import { deriveArgon2 } from "../src/auth/argon2";
import { DEFAULT_POLICY, hashPassword, verifyPassword } from "../src/auth/passwords";
import { createPepper } from "../src/auth/pepper";
import { ARGON2ID_VECTORS } from "../test/support/argon2-vectors";

// @node-rs/argon2 exports Algorithm and Version as const enums, which isolated modules cannot read.
const [ARGON2D, ARGON2I, ARGON2ID] = [0, 1, 2];
const VERSION_10 = 0;
const PASSWORDS = ["correct horse battery staple", "pässwörd ✓ 🔑", "x"];
const encode = (text: string) => new TextEncoder().encode(text);
const toHex = (bytes: Uint8Array | number[]) => Buffer.from(bytes).toString("hex");

describe("Argon2id interoperability with @node-rs/argon2", () => {
  it("verifies Turkey's hashes there", async () => {
    for (const password of PASSWORDS) {
      const stored = await hashPassword(password);
      expect(await verify(stored, password)).toBe(true);
      expect(await verify(stored, `${password}!`)).toBe(false);
    }
  });

  it("verifies its hashes here, at today's cost without a rehash", async () => {
    for (const password of PASSWORDS) {
      const stored = await hash(password, {
        algorithm: ARGON2ID,
        memoryCost: 19_456,
        timeCost: 2,
        parallelism: 1,
      });
      expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(await verifyPassword(password, stored)).toEqual({ ok: true, needsRehash: false });
      expect((await verifyPassword(`${password}!`, stored)).ok).toBe(false);
    }
  });

  it("imports its weaker hashes, Argon2i, Argon2d and version 1.0 too, and asks for a rehash", async () => {
    const imports = [
      { algorithm: ARGON2ID, memoryCost: 4096, timeCost: 3, parallelism: 2 },
      { algorithm: ARGON2I, memoryCost: 19_456, timeCost: 2, parallelism: 1 },
      { algorithm: ARGON2D, memoryCost: 19_456, timeCost: 2, parallelism: 1 },
      { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1, version: VERSION_10 },
    ];
    for (const options of imports) {
      const stored = await hash("imported", options);
      expect(await verifyPassword("imported", stored)).toEqual({ ok: true, needsRehash: true });
      expect((await verifyPassword("imported!", stored)).ok).toBe(false);
    }
  });

  it("computes the same known answers, confirmed there", async () => {
    for (const vector of ARGON2ID_VECTORS) {
      const { m, t, p } = vector.params;
      const salt = encode(vector.salt);
      const options = { algorithm: ARGON2ID, memoryCost: m, timeCost: t, parallelism: p, salt };
      expect(toHex(await hashRaw(vector.password, options))).toBe(vector.hex);
      const ours = await deriveArgon2({
        password: encode(vector.password),
        salt,
        params: vector.params,
        keyBytes: 32,
      });
      expect(toHex(ours)).toBe(vector.hex);
    }
  });

  it("hashes HMAC-SHA-256(pepper, password) when peppered, as documented", async () => {
    const secret = "a-pepper-of-at-least-32-characters-000000000";
    const stored = await hashPassword("peppered", { ...DEFAULT_POLICY, pepper: createPepper(secret) });
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1,keyid=[0-9a-f]{8}\$/);
    expect(await verify(stored, "peppered")).toBe(false);
    // @node-rs/argon2 takes only UTF-8 passwords; @noble/hashes, a third implementation, takes bytes.
    const [salt, tag] = stored
      .split("$")
      .slice(-2)
      .map((part) => Buffer.from(part ?? "", "base64"));
    const input = createHmac("sha256", secret).update("peppered").digest();
    expect(toHex(argon2id(input, salt ?? "", { m: 19_456, t: 2, p: 1, dkLen: 32 }))).toBe(toHex(tag ?? []));
  });
});
