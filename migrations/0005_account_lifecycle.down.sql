-- Reverses 0005_account_lifecycle.sql: the function that redacts a deleted account's audit rows,
-- sign-in by mailed code or link, the per-app switches, and the columns a change of address
-- keeps with its token.
DROP FUNCTION audit_redact_account(text, uuid, text);
DROP TABLE "email_logins";
ALTER TABLE "apps" DROP COLUMN "hosted_pages";
ALTER TABLE "apps" DROP COLUMN "email_signup";
ALTER TABLE "apps" DROP COLUMN "email_login";
ALTER TABLE "email_tokens" DROP COLUMN "session_id";
ALTER TABLE "email_tokens" DROP COLUMN "new_email";
