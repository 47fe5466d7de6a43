-- Accounts, sessions, refresh tokens, API keys and security events of authd (schema auth).
-- Secrets are never stored: passwords as argon2id PHC strings, refresh tokens and API keys as
-- SHA-256 digests of high-entropy random values (a slow hash adds nothing for 256-bit secrets).

CREATE TABLE auth.users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text NOT NULL,
    -- Lower-cased, trimmed form: the uniqueness and login key, so "A@x.io" and "a@x.io " are one account.
    email_normalized    text NOT NULL UNIQUE,
    password_hash       text NOT NULL,
    scopes              text NOT NULL DEFAULT 'generate subscription:read profile',
    blocked             boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth.sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    user_agent      text,
    client_ip       text
);
CREATE INDEX sessions_user_idx ON auth.sessions (user_id) WHERE revoked_at IS NULL;

-- One row per refresh token ever issued: a spent token stays (used_at set) so that its reuse is
-- recognised and revokes the session.
CREATE TABLE auth.refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON auth.refresh_tokens (session_id);

CREATE TABLE auth.api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_hash     bytea NOT NULL UNIQUE,
    -- The first characters of the key, shown in lists so that users can tell keys apart.
    key_prefix   text NOT NULL,
    scopes       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_user_idx ON auth.api_keys (user_id);

CREATE TABLE auth.security_events (
    id          bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    user_id     uuid,
    session_id  uuid,
    client_ip   text,
    request_id  text,
    detail      text
);
CREATE INDEX security_events_user_idx ON auth.security_events (user_id, occurred_at);

ALTER TABLE auth.users OWNER TO skillup_auth;
ALTER TABLE auth.sessions OWNER TO skillup_auth;
ALTER TABLE auth.refresh_tokens OWNER TO skillup_auth;
ALTER TABLE auth.api_keys OWNER TO skillup_auth;
ALTER TABLE auth.security_events OWNER TO skillup_auth;
