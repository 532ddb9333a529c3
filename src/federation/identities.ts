/**
 * Identities: a provider account (app, provider, subject) that signs in as a user of the app.
 * - A known identity signs in as its user.
 * - A new one creates the user (email verified when the provider says so), with a random
 *   password nobody knows (`password_set` false) until a reset sets one.
 * - A new one whose email already has an account links to it only when the provider asserts
 *   the email verified AND the account's email is verified: otherwise whoever controls an
 *   unverified address could take over the account (`account_exists` instead).
 * - A signed-in user links further providers; unlinking the last way in is refused.
 */
import { sql } from "drizzle-orm";
import { AUDIT_COLUMNS, auditValues } from "../audit";
import { hashingPolicy, hashPassword } from "../auth/passwords";
import { generateSecretToken } from "../auth/secrets";
import type { AuthContext } from "../auth/session-context";
import { ApiError } from "../errors";
import type { Profile } from "./profile";
import type { ProviderName } from "./providers";

/** The user the profile signs in as; throws ApiError when it may not sign in. */
export async function resolveSignIn(
  ctx: AuthContext,
  provider: ProviderName,
  profile: Profile,
): Promise<string> {
  const known = await signInKnown(ctx, provider, profile);
  const user = known ?? (await signUpOrLink(ctx, provider, profile));
  if (user.disabled) throw new ApiError("account_disabled");
  if (ctx.config.requireEmailVerification && !user.emailVerified) throw new ApiError("email_not_verified");
  return user.id;
}

interface SigningIn {
  id: string;
  emailVerified: boolean;
  disabled: boolean;
}

const SIGNING_IN = sql`u.id, u.email_verified, u.disabled_at is not null as disabled`;

function signingIn(row: Record<string, unknown> | undefined): SigningIn | undefined {
  if (!row) return undefined;
  return { id: String(row.id), emailVerified: row.email_verified === true, disabled: row.disabled === true };
}

/** A known identity: its user, after recording what the provider now says. */
async function signInKnown(ctx: AuthContext, provider: ProviderName, profile: Profile) {
  const result = await ctx.db.execute(sql`
    with identity as (
      update identities set email = ${profile.email}, email_verified = ${profile.emailVerified},
        last_sign_in_at = ${ctx.now}
      where app_id = ${ctx.app.id} and provider = ${provider} and subject = ${profile.subject}
      returning user_id
    )
    select ${SIGNING_IN} from users u join identity i on i.user_id = u.id`);
  return signingIn(result.rows[0]);
}

async function signUpOrLink(ctx: AuthContext, provider: ProviderName, profile: Profile): Promise<SigningIn> {
  if (!profile.email) throw new ApiError("email_required");
  const existing = await ctx.db.execute(sql`
    select ${SIGNING_IN} from users u where u.app_id = ${ctx.app.id} and u.email = ${profile.email}`);
  const account = signingIn(existing.rows[0]);
  if (!account) return (await createUser(ctx, provider, profile)) ?? signUpOrLink(ctx, provider, profile);
  // Both sides must vouch for the address before a provider account may enter this one.
  if (!profile.emailVerified || !account.emailVerified) throw new ApiError("account_exists");
  await insertIdentity(ctx, account.id, provider, profile);
  return account;
}

/**
 * Creates the user and its identity in one statement; undefined when the address got an
 * account meanwhile (then it is linked or refused like any existing one).
 */
async function createUser(ctx: AuthContext, provider: ProviderName, profile: Profile) {
  const passwordHash = await hashPassword(generateSecretToken(), hashingPolicy(ctx.config));
  const result = await ctx.db.execute(sql`
    with created as (
      insert into users (app_id, email, email_verified, name, password_hash, password_set, created_at, updated_at)
      values (${ctx.app.id}, ${profile.email}, ${profile.emailVerified}, ${profile.name}, ${passwordHash}, false,
        ${ctx.now}, ${ctx.now})
      on conflict (email, app_id) do nothing
      returning id, email_verified, false as disabled
    ), identity as (
      insert into identities (app_id, user_id, provider, subject, email, email_verified, created_at, last_sign_in_at)
      select ${ctx.app.id}, id, ${provider}, ${profile.subject}, ${profile.email}, ${profile.emailVerified},
        ${ctx.now}, ${ctx.now}
      from created
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("register", ctx.app.id, sql`id`, ctx.client, ctx.now, { method: provider })} from created
    )
    select * from created`);
  return signingIn(result.rows[0]);
}

/** Adds the identity to the user; refused when it already belongs to another user. */
async function insertIdentity(ctx: AuthContext, userId: string, provider: ProviderName, profile: Profile) {
  const result = await ctx.db.execute(sql`
    with linked as (
      insert into identities (app_id, user_id, provider, subject, email, email_verified, created_at, last_sign_in_at)
      values (${ctx.app.id}, ${userId}::uuid, ${provider}, ${profile.subject}, ${profile.email},
        ${profile.emailVerified}, ${ctx.now}, ${ctx.now})
      on conflict (app_id, provider, subject) do update set last_sign_in_at = excluded.last_sign_in_at
        where identities.user_id = excluded.user_id
      returning id, (xmax = 0) as inserted
    ), audited as (
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("identity_linked", ctx.app.id, userId, ctx.client, ctx.now, { provider })}
      from linked where inserted
    )
    select id from linked`);
  if (result.rows.length === 0) throw new ApiError("identity_taken");
}

/** Links the provider account to a signed-in user (the link flow). */
export async function linkIdentity(
  ctx: AuthContext,
  userId: string,
  provider: ProviderName,
  profile: Profile,
): Promise<void> {
  await insertIdentity(ctx, userId, provider, profile);
}

export interface IdentityView {
  id: string;
  provider: string;
  email: string | null;
  emailVerified: boolean;
  createdAt: string;
  lastSignInAt: string | null;
}

export async function listIdentities(
  ctx: Pick<AuthContext, "db" | "app">,
  userId: string,
): Promise<IdentityView[]> {
  const result = await ctx.db.execute(sql`
    select id, provider, email, email_verified, created_at, last_sign_in_at from identities
    where app_id = ${ctx.app.id} and user_id = ${userId}::uuid order by created_at, id`);
  return result.rows.map((row) => ({
    id: String(row.id),
    provider: String(row.provider),
    email: (row.email as string | null) ?? null,
    emailVerified: row.email_verified === true,
    createdAt: new Date(row.created_at as string).toISOString(),
    lastSignInAt: row.last_sign_in_at ? new Date(row.last_sign_in_at as string).toISOString() : null,
  }));
}

/**
 * Removes one of the user's identities, unless it is the last way in (no password, no other
 * identity). The user's row is locked first, so two unlinks at once cannot both pass the check.
 */
export async function unlinkIdentity(ctx: AuthContext, userId: string, identityId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    // Locked in a statement of its own: the count below then sees every unlink committed before.
    const user = await tx.execute(sql`
      select password_set from users where id = ${userId}::uuid and app_id = ${ctx.app.id} for update`);
    const locked = await tx.execute(sql`
      select i.provider, (select count(*)::int from identities o where o.user_id = i.user_id) as identities
      from identities i where i.id = ${identityId}::uuid and i.user_id = ${userId}::uuid`);
    const row = user.rows[0] && locked.rows[0];
    if (!row) throw new ApiError("identity_not_found");
    if (user.rows[0]?.password_set !== true && Number(row.identities) <= 1)
      throw new ApiError("last_sign_in_method");
    await tx.execute(sql`
      with removed as (delete from identities where id = ${identityId}::uuid returning id)
      insert into audit (${AUDIT_COLUMNS})
      select ${auditValues("identity_unlinked", ctx.app.id, userId, ctx.client, ctx.now, { provider: row.provider })}
      from removed`);
  });
}
