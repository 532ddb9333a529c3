-- Reverses 0008_social_sign_in.sql: social sign-in providers, return URLs, sign-ins in progress, identities.
DROP TABLE "identities";
DROP TABLE "oauth_states";
DROP TABLE "oauth_redirects";
DROP TABLE "oauth_providers";
ALTER TABLE "users" DROP COLUMN "password_set";
