-- Telegram sign-in (issue 32): an account may be made by a Telegram Mini App sign-in alone, with no
-- email and no password, and any account may link one Telegram user. One Telegram id is never
-- linked to two accounts (the primary key), nor one account to two Telegram ids (the unique user).

ALTER TABLE auth.users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE auth.users ALTER COLUMN email_normalized DROP NOT NULL;
ALTER TABLE auth.users ALTER COLUMN password_hash DROP NOT NULL;
-- An email and its normalized form come together, and a password only with an email to log in by.
ALTER TABLE auth.users ADD CONSTRAINT users_email_pair CHECK ((email IS NULL) = (email_normalized IS NULL));
ALTER TABLE auth.users ADD CONSTRAINT users_password_needs_email CHECK (password_hash IS NULL OR email IS NOT NULL);

CREATE TABLE auth.telegram_accounts (
    telegram_id   bigint PRIMARY KEY CHECK (telegram_id > 0),
    user_id       uuid NOT NULL UNIQUE REFERENCES auth.users (id) ON DELETE CASCADE,
    username      text,
    first_name    text,
    language_code text,
    linked_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE auth.telegram_accounts OWNER TO skillup_auth;

-- Each Mini App initData signs in once: its SHA-256, kept until it would be too old anyway
-- (telegram.max-age after its auth_date). In PostgreSQL, not Redis, so that a Redis restart
-- cannot make a used initData good again.
CREATE TABLE auth.telegram_init_data_uses (
    digest     bytea PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX telegram_init_data_uses_expiry_idx ON auth.telegram_init_data_uses (expires_at);

ALTER TABLE auth.telegram_init_data_uses OWNER TO skillup_auth;
