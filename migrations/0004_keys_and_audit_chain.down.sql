-- Reverses 0004_keys_and_audit_chain.sql: the audit chain and the stored signing keys.
-- Rights revoked from the app's role come back with `gravy grants` at the older version.
DROP FUNCTION audit_expire(integer, integer);
DROP FUNCTION audit_redact_user(uuid);
DROP FUNCTION audit_redact_emails(integer, integer);
DROP FUNCTION audit_seal(text, bigint, jsonb);
DROP INDEX "audit_unsealed_idx";
DROP INDEX "audit_chain_idx";
ALTER TABLE "audit" DROP COLUMN "personal";
ALTER TABLE "audit" DROP COLUMN "chain_hash";
ALTER TABLE "audit" DROP COLUMN "content_digest";
ALTER TABLE "audit" DROP COLUMN "chain_seq";
DROP TABLE "signing_keys";
DROP TABLE "audit_chains";
