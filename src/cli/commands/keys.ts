/** `gravy keys list | rotate | import | rotate-encryption`: stored signing keys and sealed values. */
import type { JWK } from "jose";
import { createNextKey, type KeyAlgorithm, KeyStateError, loadStoredKeys } from "../../auth/key-store";
import { PUBLISH_BEFORE_SIGNING_SECONDS } from "../../auth/signing-keys";
import { parseKeysConfig } from "../../config";
import { resealAll } from "../../crypto/reseal";
import type { Command } from "../command";
import { databaseTarget, withDatabase } from "../database";
import { CliError } from "../errors";
import { formatTable, writeJson, writeLines } from "../output";

const PROMOTION_NOTE =
  `It is published in /.well-known/jwks.json now and starts signing at the first cron tick ` +
  `${PUBLISH_BEFORE_SIGNING_SECONDS} s from now (a JWKS max-age and the Workers' key cache later).`;

const list: Command = {
  name: "keys list",
  summary: "List stored signing keys: kid, algorithm, state and when each changed state.",
  async run(ctx) {
    const keys = await withDatabase(databaseTarget(ctx.io.env), (handle) => loadStoredKeys(handle.db));
    const rows = keys.map(({ kid, alg, state, createdAt, usableFrom, activatedAt, retiredAt }) => ({
      kid,
      alg,
      state,
      createdAt: createdAt.toISOString(),
      usableFrom: usableFrom.toISOString(),
      activatedAt: activatedAt?.toISOString() ?? null,
      retiredAt: retiredAt?.toISOString() ?? null,
    }));
    if (ctx.json) return writeJson(ctx.io, { keys: rows });
    if (rows.length === 0)
      return writeLines(ctx.io, "No stored keys: tokens are signed with the configured key.");
    writeLines(
      ctx.io,
      formatTable(rows, [
        { key: "kid", title: "Kid" },
        { key: "alg", title: "Alg" },
        { key: "state", title: "State" },
        { key: "createdAt", title: "Created" },
        { key: "activatedAt", title: "Signing since" },
        { key: "retiredAt", title: "Retired" },
      ]),
    );
  },
};

const rotate: Command = {
  name: "keys rotate",
  summary: "Create the next signing key (sealed under ENCRYPTION_KEY); the cron promotes it once published.",
  options: {
    alg: { type: "string", valueName: "alg", description: "ES256 (default) or EdDSA" },
  },
  async run(ctx) {
    const alg = ctx.string("alg") ?? "ES256";
    if (alg !== "ES256" && alg !== "EdDSA") throw new CliError("--alg must be ES256 or EdDSA");
    await createKey(ctx, { alg: alg as KeyAlgorithm });
  },
};

const importKey: Command = {
  name: "keys import",
  summary: "Store JWT_PRIVATE_KEY as the next key, so it rotates like any other from then on.",
  async run(ctx) {
    const { jwtPrivateKey } = parseKeysConfig(ctx.io.env);
    if (!jwtPrivateKey) throw new CliError("Set JWT_PRIVATE_KEY to the private JWK to import");
    await createKey(ctx, { privateJwk: JSON.parse(jwtPrivateKey) as JWK });
  },
};

async function createKey(
  ctx: Parameters<Command["run"]>[0],
  options: { alg?: KeyAlgorithm; privateJwk?: JWK },
): Promise<void> {
  const { encryptionKeys } = parseKeysConfig(ctx.io.env);
  const created = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
    createNextKey(handle.db, encryptionKeys, new Date(), options).catch((error: unknown) => {
      if (error instanceof KeyStateError) throw new CliError(error.message);
      throw error;
    }),
  );
  if (ctx.json)
    return writeJson(ctx.io, { next: { ...created, usableFrom: created.usableFrom.toISOString() } });
  writeLines(ctx.io, `Created the next signing key ${created.kid} (${created.alg}).`, PROMOTION_NOTE);
}

const rotateEncryption: Command = {
  name: "keys rotate-encryption",
  summary:
    "Re-seal every sealed value under ENCRYPTION_KEY; values sealed under ENCRYPTION_KEY_PREVIOUS open meanwhile.",
  details:
    "Deploy the new ENCRYPTION_KEY with the old one as ENCRYPTION_KEY_PREVIOUS first, run this, then drop ENCRYPTION_KEY_PREVIOUS. A value that opens under neither secret is left as it is and reported (exit 1).",
  async run(ctx) {
    const { encryptionKeys } = parseKeysConfig(ctx.io.env);
    const counts = await withDatabase(databaseTarget(ctx.io.env), (handle) =>
      resealAll(handle.db, encryptionKeys),
    );
    if (ctx.json) writeJson(ctx.io, { columns: counts });
    else
      writeLines(
        ctx.io,
        formatTable(counts, [
          { key: "table", title: "Table" },
          { key: "column", title: "Column" },
          { key: "resealed", title: "Re-sealed", align: "right" },
          { key: "failed", title: "Not opened", align: "right" },
        ]),
      );
    const failed = counts.reduce((sum, count) => sum + count.failed, 0);
    if (failed > 0)
      throw new CliError(`${failed} value(s) opened under neither secret; they were left as they were`);
  },
};

export const keysCommands: Command[] = [list, rotate, importKey, rotateEncryption];
