-- Reverses 0003_admin_app_keys.sql: app keys, disabled accounts and the admin list's index.
DROP INDEX "users_app_created_idx";
ALTER TABLE "users" DROP COLUMN "disabled_at";
DROP TABLE "app_keys";
