-- The developers' API (/v1) spends a team's prepaid balance, so it has a scope of its own,
-- `inference`: every account has it, new ones by default and existing ones now. API keys made before
-- it keep the scopes they were made with, so no bot's key gains spending power unasked.
ALTER TABLE auth.users ALTER COLUMN scopes SET DEFAULT 'generate subscription:read subscription:manage profile documents inference';
UPDATE auth.users SET scopes = scopes || ' inference'
WHERE ' ' || scopes || ' ' LIKE '% documents %' AND ' ' || scopes || ' ' NOT LIKE '% inference %';
