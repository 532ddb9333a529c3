-- Reverses 0001_session_budget_and_republish.sql: the session index back to one column, and
-- no partial index for unpublished revocations.
DROP INDEX "refresh_tokens_session_idx";
DROP INDEX "revoked_jti_unpublished_idx";
CREATE INDEX "refresh_tokens_session_idx" ON "refresh_tokens" USING btree ("session_id");
