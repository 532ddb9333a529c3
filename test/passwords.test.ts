import { describe, expect, it } from "vitest";
import {
  checkPasswordPolicy,
  DEFAULT_PARAMS,
  deriveNative,
  deriveNoble,
  hashPassword,
  verifyAgainstDummy,
  verifyPassword,
} from "../src/auth/passwords";
import { ApiError } from "../src/errors";

describe("password hashing", () => {
  it("stores a self-describing scrypt string at the default cost", async () => {
    const hash = await hashPassword("hunter2-hunter2");
    expect(hash).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(DEFAULT_PARAMS).toEqual({ ln: 14, r: 8, p: 5 });
  });

  it("salts every hash", async () => {
    expect(await hashPassword("same password")).not.toBe(await hashPassword("same password"));
  });

  it("verifies a native hash with noble and a noble hash natively", { timeout: 60_000 }, async () => {
    const fromNative = await hashPassword("cross-check-1", DEFAULT_PARAMS, deriveNative);
    const fromNoble = await hashPassword("cross-check-2", DEFAULT_PARAMS, deriveNoble);
    expect((await verifyPassword("cross-check-1", fromNative, deriveNoble)).ok).toBe(true);
    expect((await verifyPassword("cross-check-2", fromNoble, deriveNative)).ok).toBe(true);
  });

  it("derives the same bytes natively and with noble", async () => {
    const password = new TextEncoder().encode("pässwörd");
    const salt = new Uint8Array(16).fill(7);
    const params = { ln: 10, r: 8, p: 1 };
    expect(await deriveNative(password, salt, params)).toEqual(await deriveNoble(password, salt, params));
  });

  it("rejects a wrong password and a malformed hash", async () => {
    const hash = await hashPassword("right password");
    expect(await verifyPassword("wrong password", hash)).toEqual({ ok: false, needsRehash: false });
    expect((await verifyPassword("right password", "plaintext")).ok).toBe(false);
  });

  it("asks for a rehash only after a successful check of a weaker hash", async () => {
    const weak = await hashPassword("upgrade me", { ln: 10, r: 8, p: 1 });
    expect(await verifyPassword("upgrade me", weak)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword("not me", weak)).toEqual({ ok: false, needsRehash: false });
    const strong = await hashPassword("upgrade me");
    expect(await verifyPassword("upgrade me", strong)).toEqual({ ok: true, needsRehash: false });
  });

  it("always fails the dummy verification", async () => {
    expect(await verifyAgainstDummy("anything at all")).toBe(false);
  });
});

describe("password policy", () => {
  const codeOf = (fn: () => void) => {
    try {
      fn();
      return "accepted";
    } catch (error) {
      return error instanceof ApiError ? `${error.code}:${error.field}` : "other";
    }
  };

  it("accepts 8 to 128 characters, counting characters rather than bytes", () => {
    expect(codeOf(() => checkPasswordPolicy("12345678", 8))).toBe("accepted");
    expect(codeOf(() => checkPasswordPolicy("é".repeat(128), 8))).toBe("accepted");
  });

  it("refuses short and oversized passwords as validation_failed on the field", () => {
    expect(codeOf(() => checkPasswordPolicy("1234567", 8))).toBe("validation_failed:password");
    expect(codeOf(() => checkPasswordPolicy("x".repeat(129), 8))).toBe("validation_failed:password");
    expect(codeOf(() => checkPasswordPolicy("1234567890", 12, "newPassword"))).toBe(
      "validation_failed:newPassword",
    );
  });
});
