-- Teams for the developers' API (issue 36): an organization whose members have roles, whose API
-- keys belong to it, and whose prepaid balance (billing.balances, by team id) /v1 spends. A user's
-- own account is a team of one with the user's id, which has no row here: everything made before
-- teams (balances, keys, usage) already belongs to it, and nothing of it changes.
--
-- What each role may do is authd's (Sources/Auth/Teams/TeamRole.swift): owner everything; admin
-- the API, usage and members but not owners; billing the balance and usage; member the API only.

CREATE TABLE auth.teams (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_by uuid NOT NULL REFERENCES auth.users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth.team_members (
    team_id  uuid NOT NULL REFERENCES auth.teams (id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    role     text NOT NULL CHECK (role IN ('owner', 'admin', 'billing', 'member')),
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_idx ON auth.team_members (user_id);

-- An invitation is a link with a secret token (only its SHA-256 is kept) for one email address:
-- accepted once, by a signed-in user with that address, within 7 days, unless revoked.
CREATE TABLE auth.team_invitations (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id          uuid NOT NULL REFERENCES auth.teams (id) ON DELETE CASCADE,
    email_normalized text NOT NULL CHECK (length(email_normalized) BETWEEN 3 AND 254),
    role             text NOT NULL CHECK (role IN ('admin', 'billing', 'member')),
    token_hash       bytea NOT NULL UNIQUE,
    invited_by       uuid NOT NULL REFERENCES auth.users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    accepted_at      timestamptz,
    accepted_by      uuid REFERENCES auth.users (id),
    revoked_at       timestamptz
);
-- One open invitation per address and team: inviting again replaces it (the old link dies).
CREATE UNIQUE INDEX team_invitations_open ON auth.team_invitations (team_id, email_normalized)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- Every change to a team, in the transaction that made it. Append-only, so a team with changes
-- (every team: its making is one) is never deleted; there is no route that would.
CREATE TABLE auth.team_audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    team_id uuid NOT NULL REFERENCES auth.teams (id),
    actor   uuid NOT NULL,
    action  text NOT NULL,
    subject text,
    detail  text NOT NULL DEFAULT ''
);
CREATE INDEX team_audit_team_idx ON auth.team_audit (team_id, id);
CREATE FUNCTION auth.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER team_audit_append_only BEFORE UPDATE OR DELETE ON auth.team_audit
    FOR EACH ROW EXECUTE FUNCTION auth.refuse_audit_change();

-- A team's key: made by a member (user_id, whose block stops it) for the team, with a role no
-- greater than the maker's. A personal key has neither.
ALTER TABLE auth.api_keys
    ADD COLUMN team_id uuid REFERENCES auth.teams (id) ON DELETE CASCADE,
    ADD COLUMN team_role text CHECK (team_role IN ('owner', 'admin', 'billing', 'member')),
    ADD CONSTRAINT api_keys_team_role CHECK ((team_id IS NULL) = (team_role IS NULL));
CREATE INDEX api_keys_team_idx ON auth.api_keys (team_id) WHERE team_id IS NOT NULL;

ALTER TABLE auth.teams OWNER TO skillup_auth;
ALTER TABLE auth.team_members OWNER TO skillup_auth;
ALTER TABLE auth.team_invitations OWNER TO skillup_auth;
ALTER TABLE auth.team_audit OWNER TO skillup_auth;
ALTER FUNCTION auth.refuse_audit_change() OWNER TO skillup_auth;

-- Adding to the prepaid balance has a scope of its own, `balance:manage` (a team's billing role
-- has it, a member does not), for one's own team: new accounts by default, and now every account
-- that has `inference`. API keys keep the scopes they were made with.
ALTER TABLE auth.users ALTER COLUMN scopes SET DEFAULT 'generate subscription:read subscription:manage profile documents inference usage:read balance:manage';
UPDATE auth.users SET scopes = scopes || ' balance:manage'
WHERE ' ' || scopes || ' ' LIKE '% inference %' AND ' ' || scopes || ' ' NOT LIKE '% balance:manage %';
