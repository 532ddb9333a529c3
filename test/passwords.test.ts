import { describe, expect, it } from "vitest";
import { argon2MemoryBytes, deriveArgon2 } from "../src/auth/argon2";
import { parseHash } from "../src/auth/password-format";
import {
  checkPasswordPolicy,
  DEFAULT_POLICY,
  dummyHash,
  type HashingPolicy,
  hashingPolicy,
  hashPassword,
  verifyPassword,
} from "../src/auth/passwords";
import { createPepper } from "../src/auth/pepper";
import { deriveNative, deriveNoble } from "../src/auth/scrypt";
import { ConfigError, parseConfig } from "../src/config";
import { ApiError } from "../src/errors";
import { ARGON2ID_VECTORS } from "./support/argon2-vectors";

const SCRYPT: HashingPolicy = { ...DEFAULT_POLICY, algorithm: "scrypt" };
const OLD_PEPPER = createPepper("an-old-pepper-of-at-least-32-characters-0000");
const NEW_PEPPER = createPepper("a-new-pepper-of-at-least-32-characters-11111");
const PEPPERED: HashingPolicy = { ...DEFAULT_POLICY, pepper: OLD_PEPPER };
const ROTATED: HashingPolicy = { ...DEFAULT_POLICY, pepper: NEW_PEPPER, previousPepper: OLD_PEPPER };

// First: the memory figures assume no larger hash ran before in this isolate.
describe("the Argon2 instance", () => {
  it("reuses one hash's memory for every hash, concurrent ones included", async () => {
    await hashPassword("warm up");
    const settled = await argon2MemoryBytes();
    expect(settled).toBeGreaterThanOrEqual(19_456 * 1024);
    await Promise.all(
      ["a", "bb", "ccc…", "dddd".repeat(30), "é", "x".repeat(128)].map((p) => hashPassword(p)),
    );
    // Two hashes at once would have needed twice the blocks: the memory would have grown.
    expect(await argon2MemoryBytes()).toBe(settled);
    expect(settled).toBeLessThan(2 * 19_456 * 1024);
  });

  it("takes a fresh instance for a hash larger than any before, rather than growing by its size", async () => {
    const before = await argon2MemoryBytes();
    await hashPassword("bigger", { ...DEFAULT_POLICY, argon2: { m: 32_768, t: 2, p: 1 } });
    const after = await argon2MemoryBytes();
    expect(after).toBeGreaterThanOrEqual(32_768 * 1024);
    expect(after).toBeLessThan(before + 32_768 * 1024);
    await hashPassword("smaller again");
    expect(await argon2MemoryBytes()).toBe(after);
  });

  it("computes Argon2id's known answers (v1.3), in workerd", async () => {
    for (const vector of ARGON2ID_VECTORS) {
      const encode = (text: string) => new TextEncoder().encode(text);
      const input = { password: encode(vector.password), salt: encode(vector.salt), params: vector.params };
      expect(toHex(await deriveArgon2({ ...input, keyBytes: 32 }))).toBe(vector.hex);
    }
  });
});

describe("password hashing", () => {
  it("stores Argon2id at OWASP's cost as a standard PHC string", async () => {
    const hash = await hashPassword("hunter2-hunter2");
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword("hunter2-hunter2", hash)).toEqual({ ok: true, needsRehash: false });
  });

  it("salts every hash", async () => {
    expect(await hashPassword("same password")).not.toBe(await hashPassword("same password"));
  });

  it("rejects a wrong password and a malformed hash", async () => {
    const hash = await hashPassword("right password");
    expect(await verifyPassword("wrong password", hash)).toEqual({ ok: false, needsRehash: false });
    for (const stored of ["plaintext", hash.replace("argon2id", "argon2x"), `${hash.slice(0, -1)}%`]) {
      expect((await verifyPassword("right password", stored)).ok).toBe(false);
    }
  });

  it("hashes every byte of a non-ASCII password", async () => {
    const hash = await hashPassword("ääxx-pässwörd");
    expect((await verifyPassword("ääxx-pässwörd", hash)).ok).toBe(true);
    expect((await verifyPassword("ääyy-pässwörd", hash)).ok).toBe(false);
    expect((await verifyPassword("ääxx-pässwörx", hash)).ok).toBe(false);
  });

  it("refuses a stored hash that would need more than 64 MiB", async () => {
    const hash = await hashPassword("big");
    expect((await verifyPassword("big", hash.replace("m=19456", "m=131072"))).ok).toBe(false);
    expect((await verifyPassword("big", "$scrypt$ln=20,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA")).ok).toBe(false);
  });
});

describe("scrypt hashes", () => {
  it("are made with PASSWORD_HASH=scrypt and verify under either policy", async () => {
    const hash = await hashPassword("old account", SCRYPT);
    expect(hash).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword("old account", hash, SCRYPT)).toEqual({ ok: true, needsRehash: false });
    // Under the default policy an scrypt hash is the other algorithm: upgraded at login.
    expect(await verifyPassword("old account", hash)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword("not it", hash)).toEqual({ ok: false, needsRehash: false });
  });

  it("derive the same bytes natively and with noble", async () => {
    const password = new TextEncoder().encode("pässwörd");
    const salt = new Uint8Array(16).fill(7);
    const params = { ln: 10, r: 8, p: 1 };
    expect(await deriveNative(password, salt, params, 32)).toEqual(
      await deriveNoble(password, salt, params, 32),
    );
  });
});

describe("rehash", () => {
  it("is asked for after a successful check of any weaker hash, never a stronger one", async () => {
    const weakArgon2 = await hashPassword("upgrade me", {
      ...DEFAULT_POLICY,
      argon2: { m: 8192, t: 2, p: 1 },
    });
    const weakScrypt = await hashPassword("upgrade me", { ...SCRYPT, scrypt: { ln: 10, r: 8, p: 1 } });
    const raised: HashingPolicy = { ...DEFAULT_POLICY, argon2: { m: 19_456, t: 3, p: 1 } };
    expect(await verifyPassword("upgrade me", weakArgon2)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword("upgrade me", weakScrypt, SCRYPT)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword("not me", weakArgon2)).toEqual({ ok: false, needsRehash: false });
    const today = await hashPassword("upgrade me");
    expect(await verifyPassword("upgrade me", today, raised)).toEqual({ ok: true, needsRehash: true });
    const stronger = await hashPassword("upgrade me", raised);
    expect(await verifyPassword("upgrade me", stronger)).toEqual({ ok: true, needsRehash: false });
    // An Argon2id hash under PASSWORD_HASH=scrypt is the other algorithm too.
    expect(await verifyPassword("upgrade me", today, SCRYPT)).toEqual({ ok: true, needsRehash: true });
  });
});

describe("the pepper", () => {
  it("is named by key id in the hash, which standard PHC parsers then refuse", async () => {
    const hash = await hashPassword("salt and pepper", PEPPERED);
    expect(hash).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=19456,t=2,p=1,keyid=${OLD_PEPPER.id}\\$`));
    expect(await verifyPassword("salt and pepper", hash, PEPPERED)).toEqual({ ok: true, needsRehash: false });
    // Without the Worker's secret the hash cannot be checked at all.
    expect(await verifyPassword("salt and pepper", hash)).toEqual({ ok: false, needsRehash: false });
    const unpeppered = hash.replace(`,keyid=${OLD_PEPPER.id}`, "");
    expect((await verifyPassword("salt and pepper", unpeppered, PEPPERED)).ok).toBe(false);
  });

  it("peppers scrypt hashes the same way", async () => {
    const policy: HashingPolicy = { ...SCRYPT, pepper: OLD_PEPPER };
    const hash = await hashPassword("scrypt and pepper", policy);
    expect(hash).toMatch(new RegExp(`^\\$scrypt\\$ln=14,r=8,p=5,keyid=${OLD_PEPPER.id}\\$`));
    expect(await verifyPassword("scrypt and pepper", hash, policy)).toEqual({ ok: true, needsRehash: false });
    expect((await verifyPassword("scrypt and pepper", hash, SCRYPT)).ok).toBe(false);
  });

  it("rotates: the previous pepper still verifies and asks for a rehash under the new one", async () => {
    const old = await hashPassword("rotate me", PEPPERED);
    expect(await verifyPassword("rotate me", old, ROTATED)).toEqual({ ok: true, needsRehash: true });
    const renewed = await hashPassword("rotate me", ROTATED);
    expect(parseHash(renewed)?.keyId).toBe(NEW_PEPPER.id);
    expect(await verifyPassword("rotate me", renewed, ROTATED)).toEqual({ ok: true, needsRehash: false });
    // Hashes from before any pepper are upgraded too.
    expect(await verifyPassword("rotate me", await hashPassword("rotate me"), ROTATED)).toEqual({
      ok: true,
      needsRehash: true,
    });
  });
});

describe("the dummy verification for unknown emails", () => {
  it("uses the configured algorithm, parameters and pepper, and always fails", async () => {
    const policies = [
      DEFAULT_POLICY,
      SCRYPT,
      ROTATED,
      { ...DEFAULT_POLICY, argon2: { m: 32_768, t: 3, p: 1 } },
    ];
    for (const policy of policies) {
      const dummy = parseHash(dummyHash(policy));
      const params = policy.algorithm === "scrypt" ? policy.scrypt : policy.argon2;
      expect(dummy).toMatchObject({ algorithm: policy.algorithm, params, keyId: policy.pepper?.id });
      expect((await verifyPassword("anything at all", dummyHash(policy), policy)).ok).toBe(false);
    }
  });
});

describe("the configured policy", () => {
  it("follows PASSWORD_HASH, the parameters and the peppers", () => {
    const base = { JWT_SECRET: "x" };
    expect(hashingPolicy(parseConfig(base))).toEqual({
      ...DEFAULT_POLICY,
      pepper: undefined,
      previousPepper: undefined,
    });
    const config = parseConfig({
      ...base,
      PASSWORD_HASH: "scrypt",
      PASSWORD_SCRYPT_LOG_N: "15",
      PASSWORD_PEPPER: "a-new-pepper-of-at-least-32-characters-11111",
    });
    expect(hashingPolicy(config)).toMatchObject({
      algorithm: "scrypt",
      scrypt: { ln: 15, r: 8, p: 5 },
      pepper: { id: NEW_PEPPER.id },
    });
  });
});

describe("the password hashing settings", () => {
  const keysRefused = (vars: Record<string, string>) => {
    try {
      parseConfig({ JWT_SECRET: "x", ...vars });
      return [];
    } catch (error) {
      return error instanceof ConfigError ? error.keys : ["not a ConfigError"];
    }
  };

  it("only go up from the defaults, and never past 64 MiB per hash", () => {
    expect(keysRefused({ PASSWORD_ARGON2_MEMORY_KIB: "65536", PASSWORD_ARGON2_ITERATIONS: "3" })).toEqual([]);
    expect(keysRefused({ PASSWORD_ARGON2_MEMORY_KIB: "16384" })).toEqual(["PASSWORD_ARGON2_MEMORY_KIB"]);
    expect(keysRefused({ PASSWORD_ARGON2_MEMORY_KIB: "131072" })).toEqual(["PASSWORD_ARGON2_MEMORY_KIB"]);
    expect(keysRefused({ PASSWORD_ARGON2_ITERATIONS: "1" })).toEqual(["PASSWORD_ARGON2_ITERATIONS"]);
    expect(keysRefused({ PASSWORD_SCRYPT_P: "1" })).toEqual(["PASSWORD_SCRYPT_P"]);
    expect(keysRefused({ PASSWORD_SCRYPT_LOG_N: "16", PASSWORD_SCRYPT_R: "8" })).toEqual([]);
    expect(keysRefused({ PASSWORD_SCRYPT_LOG_N: "16", PASSWORD_SCRYPT_R: "16" })).toEqual([
      "PASSWORD_SCRYPT_LOG_N",
      "PASSWORD_SCRYPT_R",
    ]);
  });

  it("name the algorithm and take peppers of 32 characters or more", () => {
    expect(keysRefused({ PASSWORD_HASH: "bcrypt" })).toEqual(["PASSWORD_HASH"]);
    expect(keysRefused({ PASSWORD_PEPPER: "too short" })).toEqual(["PASSWORD_PEPPER"]);
    expect(keysRefused({ PASSWORD_PEPPER_PREVIOUS: "too short" })).toEqual(["PASSWORD_PEPPER_PREVIOUS"]);
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

const toHex = (bytes: Uint8Array) => [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
