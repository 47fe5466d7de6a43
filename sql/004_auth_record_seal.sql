-- The secret behind the integrity check on the API-key records authd keeps in Redis. It lives
-- here because only authd's role can read the auth schema: another daemon that can write to Redis
-- still cannot make a record that authd accepts. One row, made by the first authd that needs it.
CREATE TABLE auth.record_seal (
    id     smallint PRIMARY KEY CHECK (id = 1),
    secret text NOT NULL CHECK (length(secret) >= 43)
);

ALTER TABLE auth.record_seal OWNER TO skillup_auth;
