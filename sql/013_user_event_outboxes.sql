-- The user events (Contracts/UserEvent, RabbitMQ's `events` exchange) that authd, subscribed, aid
-- and genworker produce, written by triggers in the same transaction as the change they tell of:
-- no path that revokes a session, changes a subscription or ends a generation can forget its
-- event, and none is published for a change that rolled back. One relay per schema at a time (the
-- holder of its event_relay lease; ServiceBackends.EventOutboxRelay) publishes the rows with
-- confirms, in id order, and deletes what RabbitMQ confirmed; one published twice (a crash between
-- the confirm and the delete) carries the same event id, which notifyd keeps once.
--
-- A body is the event's JSON as it travels: {"data":{...},"id","time","type","user_id"}, every data
-- value a string, the time in whole seconds (UTC).

CREATE TABLE auth.event_outbox (
    id         bigserial PRIMARY KEY,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE auth.event_outbox OWNER TO skillup_auth;
CREATE TABLE auth.event_relay (
    id     integer PRIMARY KEY CHECK (id = 1),
    holder uuid NOT NULL,
    until  timestamptz NOT NULL
);
ALTER TABLE auth.event_relay OWNER TO skillup_auth;

CREATE TABLE billing.event_outbox (
    id         bigserial PRIMARY KEY,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE billing.event_outbox OWNER TO skillup_billing;
CREATE TABLE billing.event_relay (
    id     integer PRIMARY KEY CHECK (id = 1),
    holder uuid NOT NULL,
    until  timestamptz NOT NULL
);
ALTER TABLE billing.event_relay OWNER TO skillup_billing;

CREATE TABLE ai.event_outbox (
    id         bigserial PRIMARY KEY,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ai.event_outbox OWNER TO skillup_ai;
CREATE TABLE ai.event_relay (
    id     integer PRIMARY KEY CHECK (id = 1),
    holder uuid NOT NULL,
    until  timestamptz NOT NULL
);
ALTER TABLE ai.event_relay OWNER TO skillup_ai;

-- authd: `session.revoked` for a session (sign-out, sign-out everywhere, refresh-token reuse, the
-- sessions beyond the limit), an API key, or a whole account when it is blocked.
CREATE FUNCTION auth.user_event(p_type text, p_user uuid, p_data jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO auth.event_outbox (body)
    VALUES (jsonb_build_object('id', gen_random_uuid(), 'type', p_type, 'user_id', p_user,
                               'time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'data', p_data)::text);
$$;
ALTER FUNCTION auth.user_event(text, uuid, jsonb) OWNER TO skillup_auth;

CREATE FUNCTION auth.session_revoked_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth.user_event('session.revoked', NEW.user_id,
        jsonb_build_object('session_id', NEW.id::text, 'reason', coalesce(NEW.revoked_reason, 'revoked')));
    RETURN NULL;
END $$;
ALTER FUNCTION auth.session_revoked_event() OWNER TO skillup_auth;
CREATE TRIGGER session_revoked AFTER UPDATE OF revoked_at ON auth.sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION auth.session_revoked_event();

CREATE FUNCTION auth.api_key_revoked_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth.user_event('session.revoked', NEW.user_id, jsonb_build_object('api_key_id', NEW.id::text, 'reason', 'api_key_revoked'));
    RETURN NULL;
END $$;
ALTER FUNCTION auth.api_key_revoked_event() OWNER TO skillup_auth;
CREATE TRIGGER api_key_revoked AFTER UPDATE OF revoked_at ON auth.api_keys FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION auth.api_key_revoked_event();

CREATE FUNCTION auth.account_blocked_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth.user_event('session.revoked', NEW.id, jsonb_build_object('reason', 'account_blocked'));
    RETURN NULL;
END $$;
ALTER FUNCTION auth.account_blocked_event() OWNER TO skillup_auth;
CREATE TRIGGER account_blocked AFTER UPDATE OF blocked ON auth.users FOR EACH ROW
    WHEN (NOT OLD.blocked AND NEW.blocked) EXECUTE FUNCTION auth.account_blocked_event();

-- subscribed: `subscription.changed` whenever what the user sees of their subscription changes
-- (plan, status, period, a cancellation or a plan change scheduled), whoever changed it: the
-- user, a payment webhook, the period's end, an admin. Bookkeeping columns (the tier published to
-- Redis, the newest provider event) change nothing the user sees.
CREATE FUNCTION billing.subscription_changed_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO billing.event_outbox (body)
    VALUES (jsonb_build_object('id', gen_random_uuid(), 'type', 'subscription.changed', 'user_id', NEW.user_id,
                               'time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                               'data', jsonb_strip_nulls(jsonb_build_object(
                                   'plan', NEW.plan, 'status', NEW.status,
                                   'period_end', to_char(NEW.period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                   'cancel_at_period_end', NEW.cancel_at_period_end::text, 'scheduled_plan', NEW.scheduled_plan)))::text);
    RETURN NULL;
END $$;
ALTER FUNCTION billing.subscription_changed_event() OWNER TO skillup_billing;
CREATE TRIGGER subscription_created AFTER INSERT ON billing.subscriptions FOR EACH ROW
    EXECUTE FUNCTION billing.subscription_changed_event();
CREATE TRIGGER subscription_changed AFTER UPDATE ON billing.subscriptions FOR EACH ROW
    WHEN ((OLD.plan, OLD.status, OLD.period_start, OLD.period_end, OLD.cancel_at_period_end, OLD.scheduled_plan)
          IS DISTINCT FROM (NEW.plan, NEW.status, NEW.period_start, NEW.period_end, NEW.cancel_at_period_end, NEW.scheduled_plan))
    EXECUTE FUNCTION billing.subscription_changed_event();

-- aid and genworker: a generation's progress and end, for every mode. A task that starts running
-- (again, after a retry, or taken over from a worker whose lease ran out) is `generation.progress`; an answer, a stream or a task that ended is
-- `generation.succeeded`, `generation.failed` (with its failure code) or `generation.canceled`.
-- Ids and statuses only: the client fetches the text.
CREATE FUNCTION ai.generation_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ai.event_outbox (body)
    VALUES (jsonb_build_object('id', gen_random_uuid(),
                               'type', CASE NEW.status WHEN 'running' THEN 'generation.progress' ELSE 'generation.' || NEW.status END,
                               'user_id', NEW.user_id,
                               'time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                               'data', jsonb_strip_nulls(jsonb_build_object(
                                   'task_id', NEW.id::text, 'function', NEW.function, 'mode', NEW.mode, 'status', NEW.status,
                                   'attempt', CASE NEW.status WHEN 'running' THEN NEW.attempts::text END,
                                   'failure', CASE WHEN NEW.status IN ('failed', 'canceled') THEN NEW.failure END,
                                   'request_id', NEW.request_id)))::text);
    RETURN NULL;
END $$;
ALTER FUNCTION ai.generation_event() OWNER TO skillup_ai;
CREATE TRIGGER generation_progressed AFTER UPDATE OF status, attempts ON ai.generations FOR EACH ROW
    WHEN ((OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('succeeded', 'failed', 'canceled'))
          OR (NEW.status = 'running' AND NEW.mode = 'queued' AND (OLD.status <> 'running' OR OLD.attempts <> NEW.attempts)))
    EXECUTE FUNCTION ai.generation_event();
CREATE TRIGGER generation_recorded AFTER INSERT ON ai.generations FOR EACH ROW
    WHEN (NEW.status IN ('succeeded', 'failed', 'canceled')) EXECUTE FUNCTION ai.generation_event();
