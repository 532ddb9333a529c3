DROP INDEX "refresh_tokens_session_idx";--> statement-breakpoint
CREATE INDEX "revoked_jti_unpublished_idx" ON "revoked_jti" USING btree ("expires_at") WHERE "revoked_jti"."published_to_kv" = false;--> statement-breakpoint
CREATE INDEX "refresh_tokens_session_idx" ON "refresh_tokens" USING btree ("session_id","created_at");