CREATE INDEX "audit_created_idx" ON "audit" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "audit_pii_idx" ON "audit" USING btree ("created_at") WHERE "audit"."details" ? 'email';--> statement-breakpoint
CREATE INDEX "email_tokens_used_idx" ON "email_tokens" USING btree ("used_at") WHERE "email_tokens"."used_at" is not null;--> statement-breakpoint
CREATE INDEX "refresh_tokens_revoked_idx" ON "refresh_tokens" USING btree ("revoked_at") WHERE "refresh_tokens"."revoked_at" is not null;