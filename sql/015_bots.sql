-- botd's schema (issue 32): the Telegram updates it was sent, its replies waiting to go out, and the
-- tasks whose results it sends when they end. Only botd's role owns it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skillup_bots') THEN
        CREATE ROLE skillup_bots LOGIN;
    END IF;
END
$$;
CREATE SCHEMA IF NOT EXISTS bots AUTHORIZATION skillup_bots;
REVOKE ALL ON SCHEMA bots FROM PUBLIC;
ALTER ROLE skillup_bots SET search_path = bots;

-- Every update Telegram delivered, once: its update_id is the key, so a redelivery (Telegram retries
-- any answer but 200, and both instances may get the same update at once) is stored once. Kept a
-- day after it was handled, as Telegram keeps undelivered updates a day. An update is handled in
-- update_id order within its chat; a handler holds it by a lease, so a botd that died mid-way
-- leaves it to the next.
CREATE TABLE bots.updates (
    update_id    bigint PRIMARY KEY,
    chat_id      bigint NOT NULL,
    body         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    handled_at   timestamptz,
    -- Times a handler took it: one that fails every time is given up (and told so) at last.
    attempts     integer NOT NULL DEFAULT 0,
    lease_holder uuid,
    lease_until  timestamptz
);
CREATE INDEX updates_pending_idx ON bots.updates (chat_id, update_id) WHERE handled_at IS NULL;
CREATE INDEX updates_handled_idx ON bots.updates (handled_at) WHERE handled_at IS NOT NULL;

-- Replies to send, written in the same transaction that marks their update handled (or that takes
-- a task's end): none is lost when botd stops, and each goes out in id order within its chat.
CREATE TABLE bots.outbox (
    id          bigserial PRIMARY KEY,
    chat_id     bigint NOT NULL,
    -- A group or supergroup's messages share Telegram's 20-a-minute budget for that chat.
    is_group    boolean NOT NULL DEFAULT false,
    text        text NOT NULL CHECK (length(text) BETWEEN 1 AND 4096),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_chat_idx ON bots.outbox (chat_id, id);

-- One sender at a time (the holder of this lease), so that Telegram's per-bot limits are kept by
-- one pacer, not two that each think they have the whole budget.
CREATE TABLE bots.sender_lease (
    id     integer PRIMARY KEY CHECK (id = 1),
    holder uuid NOT NULL,
    until  timestamptz NOT NULL
);

-- A queued generation a chat asked for: its result goes to that chat when the task ends (botd
-- reads it with the asker's own session, hence who asked).
CREATE TABLE bots.tasks (
    task_id       uuid PRIMARY KEY,
    chat_id       bigint NOT NULL,
    is_group      boolean NOT NULL,
    telegram_id   bigint NOT NULL,
    first_name    text NOT NULL,
    username      text,
    language_code text,
    language      text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE bots.updates OWNER TO skillup_bots;
ALTER TABLE bots.outbox OWNER TO skillup_bots;
ALTER TABLE bots.sender_lease OWNER TO skillup_bots;
ALTER TABLE bots.tasks OWNER TO skillup_bots;
