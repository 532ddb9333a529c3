-- Reverses 0003_change_email.sql: the columns a change of address keeps with its token.
ALTER TABLE "email_tokens" DROP COLUMN "session_id";
ALTER TABLE "email_tokens" DROP COLUMN "new_email";
