-- The developers' API's usage report (GET /api/billing/usage) has a scope of its own, `usage:read`:
-- every account has it for its own team, new ones by default and existing ones now. API keys made
-- before it keep the scopes they were made with.
ALTER TABLE auth.users ALTER COLUMN scopes SET DEFAULT 'generate subscription:read subscription:manage profile documents inference usage:read';
UPDATE auth.users SET scopes = scopes || ' usage:read'
WHERE ' ' || scopes || ' ' LIKE '% inference %' AND ' ' || scopes || ' ' NOT LIKE '% usage:read %';
