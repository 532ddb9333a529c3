-- Reverses 0004_email_login.sql: sign-in by mailed code or link, and the per-app switches.
DROP TABLE "email_logins";
ALTER TABLE "apps" DROP COLUMN "hosted_pages";
ALTER TABLE "apps" DROP COLUMN "email_signup";
ALTER TABLE "apps" DROP COLUMN "email_login";
