-- Reverses 0009_passkeys.sql: users' passkeys and their pending WebAuthn challenges.
DROP TABLE "passkey_challenges";
DROP TABLE "passkeys";
