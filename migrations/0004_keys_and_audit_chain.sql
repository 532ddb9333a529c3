CREATE TABLE "audit_chains" (
	"app_id" text PRIMARY KEY NOT NULL,
	"head_seq" bigint DEFAULT 0 NOT NULL,
	"head_hash" text NOT NULL,
	"anchor_seq" bigint DEFAULT 0 NOT NULL,
	"anchor_hash" text NOT NULL,
	"sealed_at" timestamp with time zone,
	"anchored_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"state" text NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"private_sealed" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"usable_from" timestamp with time zone NOT NULL,
	"activated_at" timestamp with time zone,
	"retired_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "audit" ADD COLUMN "chain_seq" bigint;--> statement-breakpoint
ALTER TABLE "audit" ADD COLUMN "content_digest" text;--> statement-breakpoint
ALTER TABLE "audit" ADD COLUMN "chain_hash" text;--> statement-breakpoint
ALTER TABLE "audit" ADD COLUMN "personal" jsonb;--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_current_idx" ON "signing_keys" USING btree ("state") WHERE "signing_keys"."state" = 'current';--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_next_idx" ON "signing_keys" USING btree ("state") WHERE "signing_keys"."state" = 'next';--> statement-breakpoint
CREATE INDEX "audit_chain_idx" ON "audit" USING btree (coalesce("app_id", ''),"chain_seq");--> statement-breakpoint
CREATE INDEX "audit_unsealed_idx" ON "audit" USING btree ("created_at") WHERE "audit"."chain_seq" is null;--> statement-breakpoint
-- The audit chain is written only through these SECURITY DEFINER functions, owned by the role
-- that migrates: the app's own role may insert and read audit rows, never update or delete them
-- (`gravy grants`), yet its cron can seal the chain and apply retention.
CREATE FUNCTION audit_seal(chain_key text, expected_head bigint, sealed jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  head bigint;
  updated bigint;
BEGIN
  INSERT INTO audit_chains (app_id, head_hash, anchor_hash)
  VALUES (chain_key, repeat('0', 64), repeat('0', 64)) ON CONFLICT DO NOTHING;
  SELECT head_seq INTO head FROM audit_chains WHERE app_id = chain_key FOR UPDATE;
  -- Another sealer moved the head since this batch was computed: it is stale, skip it.
  IF head <> expected_head OR jsonb_array_length(sealed) = 0 THEN RETURN -1; END IF;
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(sealed) WITH ORDINALITY AS s(item, n)
             WHERE (item->>'seq')::bigint <> head + n) THEN
    RAISE EXCEPTION 'audit_seal: positions must follow the head';
  END IF;
  UPDATE audit a SET chain_seq = s.seq, content_digest = s."contentDigest", chain_hash = s."chainHash",
    personal = s.personal
  FROM jsonb_to_recordset(sealed) AS s(id uuid, seq bigint, "contentDigest" text, "chainHash" text, personal jsonb)
  WHERE a.id = s.id AND a.chain_seq IS NULL AND coalesce(a.app_id, '') = chain_key;
  GET DIAGNOSTICS updated = ROW_COUNT;
  IF updated <> jsonb_array_length(sealed) THEN
    RAISE EXCEPTION 'audit_seal: every row must be an unsealed row of this chain';
  END IF;
  UPDATE audit_chains SET head_seq = head + updated, head_hash = sealed->-1->>'chainHash', sealed_at = now()
  WHERE app_id = chain_key;
  RETURN head + updated;
END $$;
--> statement-breakpoint
-- Blanks the attempted email of rows older than `days` (at least one), and the salt of its
-- digest: the digest stays in the chain, so the row verifies as redacted.
CREATE FUNCTION audit_redact_emails(days integer, max_rows integer) RETURNS SETOF uuid
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE audit SET details = details - 'email',
    personal = CASE WHEN personal ? 'details.email'
      THEN jsonb_set(personal, '{details.email}', (personal->'details.email') - 'salt') ELSE personal END
  WHERE ctid IN (
    SELECT ctid FROM audit
    WHERE details ? 'email' AND created_at < now() - greatest(days, 1) * interval '1 day'
    LIMIT max_rows FOR UPDATE SKIP LOCKED)
  RETURNING id
$$;
--> statement-breakpoint
-- An account's deletion: blanks the personal fields of its audit rows the same way.
CREATE FUNCTION audit_redact_user(target uuid) RETURNS SETOF uuid
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE audit SET details = details - 'email', ip = NULL, user_agent = NULL,
    personal = (SELECT coalesce(jsonb_object_agg(key, value - 'salt'), personal)
                FROM jsonb_each(personal))
  WHERE user_id = target
  RETURNING id
$$;
--> statement-breakpoint
-- Deletes sealed rows older than `days` (at least one) from the start of each chain only, and
-- records the last deleted row's position and hash as the chain's anchor.
CREATE FUNCTION audit_expire(days integer, max_rows integer) RETURNS SETOF uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  chain record;
  cutoff timestamptz := now() - greatest(days, 1) * interval '1 day';
  budget integer := max_rows;
  upto bigint;
  upto_hash text;
BEGIN
  FOR chain IN SELECT app_id, anchor_seq FROM audit_chains ORDER BY anchored_at NULLS FIRST
               FOR UPDATE SKIP LOCKED LOOP
    EXIT WHEN budget <= 0;
    -- The longest run of old rows right after the anchor; a newer row ends it.
    SELECT max(seq) INTO upto FROM (
      SELECT seq, bool_and(old) OVER (ORDER BY seq) AS all_old FROM (
        SELECT chain_seq AS seq, created_at < cutoff AS old FROM audit
        WHERE coalesce(app_id, '') = chain.app_id AND chain_seq > chain.anchor_seq
        ORDER BY chain_seq LIMIT budget) run) prefix
    WHERE all_old;
    CONTINUE WHEN upto IS NULL;
    SELECT chain_hash INTO upto_hash FROM audit
    WHERE coalesce(app_id, '') = chain.app_id AND chain_seq = upto;
    UPDATE audit_chains SET anchor_seq = upto, anchor_hash = upto_hash, anchored_at = now()
    WHERE app_id = chain.app_id;
    RETURN QUERY DELETE FROM audit
      WHERE coalesce(app_id, '') = chain.app_id AND chain_seq > chain.anchor_seq AND chain_seq <= upto
      RETURNING id;
    budget := budget - (upto - chain.anchor_seq)::integer;
  END LOOP;
  -- Rows never sealed (written before the chain existed, or while no cron ran) are in no chain.
  IF budget > 0 THEN
    RETURN QUERY DELETE FROM audit WHERE ctid IN (
      SELECT ctid FROM audit WHERE chain_seq IS NULL AND created_at < cutoff
      LIMIT budget FOR UPDATE SKIP LOCKED)
    RETURNING id;
  END IF;
END $$;
--> statement-breakpoint
-- Roles granted before this migration (`gravy grants`) lose the right to rewrite the audit.
DO $$ DECLARE grantee text; BEGIN
  FOR grantee IN SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
    WHERE g.table_schema = 'public' AND g.table_name IN ('audit', 'audit_chains')
      AND g.privilege_type IN ('UPDATE', 'DELETE') AND g.grantee <> current_user LOOP
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit, audit_chains FROM %I', grantee);
    EXECUTE format('REVOKE INSERT ON audit_chains FROM %I', grantee);
  END LOOP;
END $$;
