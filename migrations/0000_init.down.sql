-- Reverses 0000_init.sql: drops every table it created. Dependents first, so no CASCADE is
-- needed and nothing outside this migration can be dropped by accident. Indexes, primary keys
-- and foreign keys go with their tables.
DROP TABLE "email_tokens";
DROP TABLE "refresh_tokens";
DROP TABLE "revoked_jti";
DROP TABLE "audit";
DROP TABLE "users";
DROP TABLE "apps";
