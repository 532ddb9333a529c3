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
ALTER TABLE "email_logins" ADD CONSTRAINT "email_logins_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "email_logins_hash_idx" ON "email_logins" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "email_logins_email_idx" ON "email_logins" USING btree ("app_id","email","created_at");--> statement-breakpoint
CREATE INDEX "email_logins_expires_idx" ON "email_logins" USING btree ("expires_at");