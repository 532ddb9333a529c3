/**
 * TOTP factors of a user in one app: enrol (pending), confirm (active, recovery codes issued,
 * other sessions ended), check a code, remove. The secret is sealed under ENCRYPTION_KEY and
 * bound to its row (app, user, factor id); a code is accepted only for a time step newer than
 * the last one accepted, decided by one conditional UPDATE, so parallel requests with the same
 * code cannot both pass.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, type AuditEvent, auditValues, type Client } from "../audit";
import { lockUser, publishEnded, revokeSessions } from "../auth/end-sessions";
import type { AuthContext } from "../auth/session-context";
import { open, seal } from "../crypto/seal";
import type { Executor } from "../db";
import { ApiError } from "../errors";
import { listPasskeys, type PasskeyView } from "../passkeys/credentials";
import { generateRecoveryCodes, replaceRecoveryCodes, spendRecoveryCode } from "./recovery-codes";
import { generateTotpSecret, matchingStep, otpauthUrl, toBase32 } from "./totp";

/** What proves the second factor: a current TOTP code, or one of the recovery codes. */
export type SecondFactor = { code: string } | { recoveryCode: string };

interface FactorRow {
  id: string;
  secretSealed: string;
  confirmed: boolean;
}

export type FactorContext = Pick<AuthContext, "db" | "config" | "app" | "client" | "now">;

/** Starts (or restarts) enrolment; refused while a confirmed TOTP factor exists. */
export async function enrollTotp(
  ctx: FactorContext,
  userId: string,
): Promise<{ secret: string; otpauthUrl: string }> {
  const id = crypto.randomUUID();
  const secret = generateTotpSecret();
  const sealed = await seal(ctx.config.encryptionKeys, "totp-secret", secret, sealContext(ctx, userId, id));
  const result = await ctx.db.execute(sql`
    with saved as (
      insert into mfa_factors (id, app_id, user_id, kind, secret_sealed, created_at)
      select ${id}::uuid, app_id, id, 'totp', ${sealed}, ${ctx.now}
      from users where id = ${userId}::uuid and app_id = ${ctx.app.id}
      on conflict (user_id, kind) do update
        set id = excluded.id, secret_sealed = excluded.secret_sealed, created_at = excluded.created_at,
          last_used_step = null
        where mfa_factors.confirmed_at is null
      returning user_id
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("mfa_enrollment_started", ctx.app.id, sql`user_id`, ctx.client, ctx.now, { kind: "totp" })}
      from saved
    )
    select u.email from saved s join users u on u.id = s.user_id`);
  const email = result.rows[0]?.email;
  if (typeof email !== "string") throw new ApiError("mfa_already_enabled");
  return { secret: toBase32(secret), otpauthUrl: otpauthUrl(ctx.app.name, email, secret) };
}

/**
 * Activates the pending factor with a first code, issues fresh recovery codes and ends the
 * user's other sessions, in one transaction under the user's row lock (end-sessions.ts).
 */
export async function confirmTotp(
  ctx: AuthContext,
  caller: { userId: string; sessionId: string },
  code: string,
): Promise<{ recoveryCodes: string[] }> {
  const recoveryCodes = generateRecoveryCodes();
  const ended = await ctx.db.transaction(async (tx) => {
    await lockUser(tx, ctx.app.id, caller.userId);
    const factor = await findTotpFactor(tx, ctx, caller.userId);
    if (!factor) throw new ApiError("mfa_not_enrolled");
    if (factor.confirmed) throw new ApiError("mfa_already_enabled");
    const step = await stepOfCode(ctx, caller.userId, factor, code);
    if (step === undefined) throw new ApiError("invalid_mfa_code");
    await tx.execute(sql`
      update mfa_factors set confirmed_at = ${ctx.now}, last_used_step = ${step} where id = ${factor.id}::uuid`);
    await tx.execute(replaceRecoveryCodes(ctx.app.id, caller.userId, recoveryCodes, ctx.now));
    return revokeSessions(tx, ctx, {
      userId: caller.userId,
      exceptSessionId: caller.sessionId,
      event: "mfa_enabled",
    });
  });
  await publishEnded(ctx, ended);
  return { recoveryCodes };
}

/**
 * Accepts a second factor of a user with an active one: a TOTP code of a step newer than the
 * last accepted (the step is recorded by the same statement that checks it), or an unused
 * recovery code (spent by the same statement). Returns false otherwise.
 */
export async function acceptSecondFactor(
  ctx: FactorContext,
  userId: string,
  proof: SecondFactor,
): Promise<boolean> {
  if ("recoveryCode" in proof) {
    const spent = await ctx.db.execute(spendRecoveryCode(ctx.app.id, userId, proof.recoveryCode, ctx.now));
    if (spent.rows.length === 0) return false;
    await audit(ctx, "recovery_code_used", userId, {});
    return true;
  }
  const factor = await findTotpFactor(ctx.db, ctx, userId);
  if (!factor?.confirmed) return false;
  const step = await stepOfCode(ctx, userId, factor, proof.code);
  if (step === undefined) return false;
  const used = await ctx.db.execute(sql`
    update mfa_factors set last_used_step = ${step}
    where id = ${factor.id}::uuid and confirmed_at is not null
      and (last_used_step is null or last_used_step < ${step})
    returning id`);
  return used.rows.length === 1;
}

/** Deletes the user's TOTP factor and recovery codes, audited; false when there was none. */
export async function deleteTotp(
  db: Executor,
  target: { appId: string; userId: string },
  who: { client: Client; now: Date },
  details: Record<string, unknown> = {},
): Promise<boolean> {
  const { appId, userId } = target;
  const result = await db.execute(sql`
    with removed as (
      delete from mfa_factors where app_id = ${appId} and user_id = ${userId}::uuid and kind = 'totp'
      returning user_id
    ), codes as (
      delete from recovery_codes where app_id = ${appId} and user_id = ${userId}::uuid
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("mfa_disabled", appId, sql`user_id`, who.client, who.now, { kind: "totp", ...details })}
      from removed
    )
    select count(*)::int as removed from removed`);
  return result.rows[0]?.removed === 1;
}

export interface FactorView {
  kind: "totp";
  createdAt: string;
  confirmedAt: string | null;
}

export interface FactorsView {
  factors: FactorView[];
  recoveryCodesLeft: number;
  passkeys: PasskeyView[];
}

/** The user's factors (pending ones included), how many recovery codes are unused, and the passkeys. */
export async function listFactors(db: Executor, appId: string, userId: string): Promise<FactorsView> {
  const result = await db.execute(sql`
    select kind, created_at, confirmed_at
    from mfa_factors where app_id = ${appId} and user_id = ${userId}::uuid order by created_at`);
  const left = await db.execute(sql`
    select count(*)::int as n from recovery_codes
    where app_id = ${appId} and user_id = ${userId}::uuid and used_at is null`);
  return {
    factors: result.rows.map((row) => ({
      kind: "totp" as const,
      createdAt: new Date(row.created_at as string).toISOString(),
      confirmedAt: row.confirmed_at ? new Date(row.confirmed_at as string).toISOString() : null,
    })),
    recoveryCodesLeft: Number(left.rows[0]?.n ?? 0),
    passkeys: await listPasskeys(db, appId, userId),
  };
}

async function findTotpFactor(
  db: Executor,
  ctx: FactorContext,
  userId: string,
): Promise<FactorRow | undefined> {
  const result = await db.execute(sql`
    select id, secret_sealed, confirmed_at is not null as confirmed from mfa_factors
    where app_id = ${ctx.app.id} and user_id = ${userId}::uuid and kind = 'totp'`);
  const row = result.rows[0];
  if (!row) return undefined;
  return { id: String(row.id), secretSealed: String(row.secret_sealed), confirmed: row.confirmed === true };
}

async function stepOfCode(
  ctx: FactorContext,
  userId: string,
  factor: FactorRow,
  code: string,
): Promise<number | undefined> {
  const { plaintext } = await open(
    ctx.config.encryptionKeys,
    "totp-secret",
    factor.secretSealed,
    sealContext(ctx, userId, factor.id),
  );
  return matchingStep(plaintext, code, ctx.now.getTime());
}

/** Binds a sealed secret to its row: copied into another row, it does not open. */
function sealContext(ctx: Pick<FactorContext, "app">, userId: string, factorId: string): string {
  return `${ctx.app.id}/${userId}/${factorId}`;
}

async function audit(
  ctx: FactorContext,
  event: AuditEvent,
  userId: string,
  details: Record<string, unknown>,
) {
  await ctx.db.execute(sql`
    insert into audit (${AUDIT_COLUMNS})
    values (${auditValues(event, ctx.app.id, userId, ctx.client, ctx.now, details)})`);
}
