/**
 * Argon2id v1.3 known answers shared by the workerd and Node suites. Argon2's own test suite
 * (phc-winner-argon2, "password"/"somesalt") has them; test-node/argon2-interop.test.ts
 * confirms each against an independent implementation (the Rust argon2 crate), so the
 * constants are checked, not trusted. RFC 9106's vector (section 5.3) needs a secret and
 * associated data, which the C API Turkey calls (`argon2_hash`) does not take.
 */
export interface Argon2Vector {
  password: string;
  salt: string;
  params: { m: number; t: number; p: number };
  hex: string;
}

export const ARGON2ID_VECTORS: Argon2Vector[] = [
  {
    password: "password",
    salt: "somesalt",
    params: { m: 65_536, t: 2, p: 1 },
    hex: "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7",
  },
  {
    password: "password",
    salt: "somesalt",
    params: { m: 256, t: 2, p: 1 },
    hex: "9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe",
  },
  {
    password: "password",
    salt: "somesalt",
    params: { m: 256, t: 2, p: 2 },
    hex: "6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037",
  },
  {
    password: "password",
    salt: "somesalt",
    params: { m: 65_536, t: 1, p: 1 },
    hex: "f6a5adc1ba723dddef9b5ac1d464e180fcd9dffc9d1cbf76cca2fed795d9ca98",
  },
  {
    password: "password",
    salt: "somesalt",
    params: { m: 65_536, t: 4, p: 1 },
    hex: "9025d48e68ef7395cca9079da4c4ec3affb3c8911fe4f86d1a2520856f63172c",
  },
  {
    password: "differentpassword",
    salt: "somesalt",
    params: { m: 65_536, t: 2, p: 1 },
    hex: "0b84d652cf6b0c4beaef0dfe278ba6a80df6696281d7e0d2891b817d8c458fde",
  },
  {
    password: "password",
    salt: "diffsalt",
    params: { m: 65_536, t: 2, p: 1 },
    hex: "bdf32b05ccc42eb15d58fd19b1f856b113da1e9a5874fdcc544308565aa8141c",
  },
];
