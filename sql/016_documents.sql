-- docsd's schema (issue 33): the documents users keep, every version of each, their share links
-- and shares with other users, and each user's profile. Only docsd's role owns it; no other
-- service reads it (aid asks docsd's internal API for a profile and to save a generation).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skillup_docs') THEN
        CREATE ROLE skillup_docs LOGIN;
    END IF;
END
$$;
CREATE SCHEMA IF NOT EXISTS docs AUTHORIZATION skillup_docs;
REVOKE ALL ON SCHEMA docs FROM PUBLIC;
ALTER ROLE skillup_docs SET search_path = docs;

-- A document is its latest version; `version` counts from 1 and is what If-Match names. A deleted
-- one waits in the trash (deleted_at) for 30 days, then goes with its versions, links and shares.
-- `search` is the text search over title and body in Russian and English stems at once, so that a
-- query in either language finds the inflected forms of its words.
CREATE TABLE docs.documents (
    id                   uuid PRIMARY KEY,
    owner_id             uuid NOT NULL,
    title                text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    body                 text NOT NULL CHECK (octet_length(body) <= 204800),
    kind                 text NOT NULL,
    source_generation_id uuid,
    version              integer NOT NULL CHECK (version >= 1),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at           timestamptz,
    search               tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('russian', title), 'A') || setweight(to_tsvector('english', title), 'A')
        || to_tsvector('russian', body) || to_tsvector('english', body)) STORED
);
ALTER TABLE docs.documents OWNER TO skillup_docs;
-- The owner's pages, newest first (created_at, id: a cursor that an edit never moves).
CREATE INDEX documents_owner_idx ON docs.documents (owner_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX documents_trash_idx ON docs.documents (owner_id, deleted_at DESC) WHERE deleted_at IS NOT NULL;
CREATE INDEX documents_search_idx ON docs.documents USING gin (search);

-- Every saved version, the first included: the history a user restores from.
CREATE TABLE docs.versions (
    document_id uuid NOT NULL REFERENCES docs.documents (id) ON DELETE CASCADE,
    version     integer NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL,
    saved_by    uuid NOT NULL,
    saved_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, version)
);
ALTER TABLE docs.versions OWNER TO skillup_docs;

-- Share links (/s/<token>): only the SHA-256 of the token is kept, so the table alone opens nothing.
-- A link ends when revoked, when it expires, and when its document is deleted.
CREATE TABLE docs.links (
    id          uuid PRIMARY KEY,
    document_id uuid NOT NULL REFERENCES docs.documents (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    access      text NOT NULL CHECK (access = 'read'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);
ALTER TABLE docs.links OWNER TO skillup_docs;
CREATE INDEX links_document_idx ON docs.links (document_id);

-- Shares with another user (found by email through authd): read, or edit under the same If-Match rule.
CREATE TABLE docs.shares (
    document_id uuid NOT NULL REFERENCES docs.documents (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL,
    access      text NOT NULL CHECK (access IN ('read', 'edit')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, user_id)
);
ALTER TABLE docs.shares OWNER TO skillup_docs;
CREATE INDEX shares_user_idx ON docs.shares (user_id);

-- A user's profile: none until the first PUT, which the API shows as the defaults.
CREATE TABLE docs.profiles (
    user_id         uuid PRIMARY KEY,
    display_name    text,
    language        text NOT NULL,
    time_zone       text NOT NULL,
    max_tokens      integer,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE docs.profiles OWNER TO skillup_docs;

-- The user events docsd tells of (document.shared, document.updated), written in the transaction of
-- the change, published by the relay as the other services' are (sql/013).
CREATE TABLE docs.event_outbox (
    id         bigserial PRIMARY KEY,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE docs.event_outbox OWNER TO skillup_docs;
CREATE TABLE docs.event_relay (
    id     integer PRIMARY KEY CHECK (id = 1),
    holder uuid NOT NULL,
    until  timestamptz NOT NULL
);
ALTER TABLE docs.event_relay OWNER TO skillup_docs;
CREATE FUNCTION docs.user_event(p_type text, p_user uuid, p_data jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO docs.event_outbox (body)
    VALUES (jsonb_build_object('id', gen_random_uuid(), 'type', p_type, 'user_id', p_user,
                               'time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'data', p_data)::text);
$$;
ALTER FUNCTION docs.user_event(text, uuid, jsonb) OWNER TO skillup_docs;

-- How many documents (not counting the trash) each plan keeps. subscribed tells docsd through its
-- entitlement API; docsd never reads billing's tables.
ALTER TABLE billing.plans ADD COLUMN documents_max integer NOT NULL DEFAULT 1000 CHECK (documents_max >= 0);
UPDATE billing.plans SET documents_max = 1000 WHERE code = 'free';
UPDATE billing.plans SET documents_max = 10000 WHERE code = 'pro';
UPDATE billing.plans SET documents_max = 50000 WHERE code = 'team';

-- Documents need a scope of their own, which every account is given, as the accounts before it.
ALTER TABLE auth.users ALTER COLUMN scopes SET DEFAULT 'generate subscription:read subscription:manage profile documents';
UPDATE auth.users SET scopes = scopes || ' documents'
WHERE ' ' || scopes || ' ' LIKE '% profile %' AND ' ' || scopes || ' ' NOT LIKE '% documents %';
