CREATE TABLE "email_logins" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"app_id" text NOT NULL,
	"email" text NOT NULL,
	"token_hash" text NOT NULL,
	"code_hash" text NOT NULL,
	"failed_attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "email_login" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "email_signup" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "hosted_pages" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "email_tokens" ADD COLUMN "new_email" text;--> statement-breakpoint
ALTER TABLE "email_tokens" ADD COLUMN "session_id" uuid;--> statement-breakpoint
ALTER TABLE "email_logins" ADD CONSTRAINT "email_logins_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "email_logins_hash_idx" ON "email_logins" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "email_logins_email_idx" ON "email_logins" USING btree ("app_id","email","created_at");--> statement-breakpoint
CREATE INDEX "email_logins_expires_idx" ON "email_logins" USING btree ("expires_at");--> statement-breakpoint
-- An account's deletion, run by the app's role (which may not update audit rows): its own rows
-- lose the address, IP and user agent, failed sign-ins that named the address lose the address;
-- each blanked field's salt goes with it, so the row verifies as redacted in the chain.
CREATE FUNCTION audit_redact_account(app text, target uuid, address text) RETURNS SETOF uuid
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE audit SET
    details = details - 'email',
    ip = CASE WHEN user_id = target THEN NULL ELSE ip END,
    user_agent = CASE WHEN user_id = target THEN NULL ELSE user_agent END,
    personal = CASE
      WHEN personal IS NULL THEN NULL
      WHEN user_id = target THEN
        (SELECT coalesce(jsonb_object_agg(key, value - 'salt'), personal) FROM jsonb_each(personal))
      WHEN personal ? 'details.email' THEN
        jsonb_set(personal, '{details.email}', (personal->'details.email') - 'salt')
      ELSE personal END
  WHERE app_id = app AND (user_id = target OR details->>'email' = address)
  RETURNING id
$$;
