-- Reverses 0007_handoff_and_email_codes.sql: sign-ins handed to the app's page, deletion codes, and the first step of a two-step sign-in.
DROP TABLE "handoff_codes";
ALTER TABLE "email_logins" DROP COLUMN "purpose";
ALTER TABLE "email_logins" DROP COLUMN "code_challenge";
ALTER TABLE "mfa_challenges" DROP COLUMN "first_amr";
