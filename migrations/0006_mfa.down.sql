-- Reverses 0006_mfa.sql: second factors, recovery codes, pending MFA sign-ins, and how a session signed in.
DROP TABLE "mfa_challenges";
DROP TABLE "mfa_factors";
DROP TABLE "recovery_codes";
ALTER TABLE "refresh_tokens" DROP COLUMN "amr";
ALTER TABLE "refresh_tokens" DROP COLUMN "aal";
