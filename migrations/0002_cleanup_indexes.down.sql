-- Reverses 0002_cleanup_indexes.sql: the indexes that serve the cleanup's retention rules.
DROP INDEX "audit_created_idx";
DROP INDEX "audit_pii_idx";
DROP INDEX "email_tokens_used_idx";
DROP INDEX "refresh_tokens_revoked_idx";
