-- Subscriptions, the usage ledger and the decisions over them (subscribed, schema billing).
--
-- A quota decision is one PostgreSQL transaction: the ledger row and the counters it moves are
-- written together under a per-user lock, so no retry, race between instances or crash can count a
-- request twice, lose one, or let one past a limit.

-- The limits a plan gives beyond its monthly generations. Long generations are the plan's
-- 'generate.long' feature.
ALTER TABLE billing.plans
    ADD COLUMN generations_per_day integer NOT NULL DEFAULT 10 CHECK (generations_per_day >= 0),
    ADD COLUMN max_output_tokens integer NOT NULL DEFAULT 512 CHECK (max_output_tokens > 0),
    ADD COLUMN tasks_at_once integer NOT NULL DEFAULT 1 CHECK (tasks_at_once > 0);
UPDATE billing.plans SET generations_per_day = 10, max_output_tokens = 512, tasks_at_once = 1 WHERE code = 'free';
UPDATE billing.plans SET generations_per_day = 200, max_output_tokens = 2048, tasks_at_once = 3 WHERE code = 'pro';
UPDATE billing.plans SET generations_per_day = 1000, max_output_tokens = 4096, tasks_at_once = 10 WHERE code = 'team';

-- A user's current subscription; a user without one is on 'free' for the calendar month.
CREATE TABLE billing.subscriptions (
    user_id                  uuid PRIMARY KEY,
    plan                     text NOT NULL REFERENCES billing.plans (code),
    status                   text NOT NULL CHECK (status IN ('trial', 'active', 'past_due', 'canceled', 'expired')),
    period_start             timestamptz NOT NULL,
    period_end               timestamptz NOT NULL,
    cancel_at_period_end     boolean NOT NULL DEFAULT false,
    provider                 text,
    provider_customer_id     text,
    provider_subscription_id text,
    -- The newest provider event applied here, by (time, id): an older one arriving later is stale.
    provider_event_at        timestamptz,
    provider_event_id        text,
    updated_at               timestamptz NOT NULL DEFAULT now(),
    -- Every change that can move the user's tier raises tier_version; subscribed writes the tier to
    -- Redis (billing:tier:<user id>) and then records the version it wrote, so a write that failed
    -- is retried until Redis holds it.
    tier_version             bigint NOT NULL DEFAULT 1,
    tier_published_version   bigint NOT NULL DEFAULT 0,
    CHECK (period_end > period_start)
);
ALTER TABLE billing.subscriptions OWNER TO skillup_billing;

-- Append-only: a request's reservation, and later its settlement or release, are rows of their own.
CREATE TABLE billing.usage_ledger (
    request_id   text NOT NULL CHECK (request_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    state        text NOT NULL CHECK (state IN ('reserved', 'settled', 'released')),
    user_id      uuid NOT NULL,
    feature      text NOT NULL,
    units        integer NOT NULL CHECK (units > 0),
    -- What the units count against: the UTC day and the subscription period of the reservation.
    usage_day    date NOT NULL,
    period_start timestamptz NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, state)
);
-- A request ends once: settled or released, never both.
CREATE UNIQUE INDEX usage_ledger_one_ending ON billing.usage_ledger (request_id) WHERE state <> 'reserved';
CREATE INDEX usage_ledger_user_day ON billing.usage_ledger (user_id, usage_day);
ALTER TABLE billing.usage_ledger OWNER TO skillup_billing;

CREATE FUNCTION billing.refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'billing.usage_ledger is append-only';
END
$$;
CREATE TRIGGER usage_ledger_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON billing.usage_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION billing.refuse_ledger_change();

-- The ledger's sums, moved in the same transaction as its rows: units counted per user and UTC day,
-- and per user and period.
CREATE TABLE billing.usage_daily (
    user_id   uuid NOT NULL,
    usage_day date NOT NULL,
    units     integer NOT NULL CHECK (units >= 0),
    PRIMARY KEY (user_id, usage_day)
);
ALTER TABLE billing.usage_daily OWNER TO skillup_billing;
CREATE TABLE billing.usage_period (
    user_id      uuid NOT NULL,
    period_start timestamptz NOT NULL,
    units        integer NOT NULL CHECK (units >= 0),
    PRIMARY KEY (user_id, period_start)
);
ALTER TABLE billing.usage_period OWNER TO skillup_billing;
-- Reservations neither settled nor released yet: the tasks a user has under way.
CREATE TABLE billing.open_reservations (
    request_id text PRIMARY KEY,
    user_id    uuid NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX open_reservations_user ON billing.open_reservations (user_id);
ALTER TABLE billing.open_reservations OWNER TO skillup_billing;

-- Provider events applied, by the provider's own id: a redelivery is recognised and answered 200.
CREATE TABLE billing.webhook_events (
    provider    text NOT NULL,
    event_id    text NOT NULL,
    type        text NOT NULL,
    user_id     uuid,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);
ALTER TABLE billing.webhook_events OWNER TO skillup_billing;

-- Who changed whose subscription, how, and when.
CREATE TABLE billing.audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    user_id uuid NOT NULL,
    detail  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_user ON billing.audit (user_id, at);
CREATE INDEX subscriptions_tier_unpublished ON billing.subscriptions (user_id) WHERE tier_version > tier_published_version;
ALTER TABLE billing.audit OWNER TO skillup_billing;

-- The plan whose limits apply to a user at p_now, and why: 'subscribed' (trial, active, or past due
-- within its grace), 'none' (never subscribed: free for the calendar month) or 'lapsed' (canceled or
-- expired, or past due beyond the grace: free for the calendar month). A live subscription counts
-- from the moment it is written, even if its period starts a little later by this clock (a
-- provider's clock may run ahead).
CREATE FUNCTION billing.effective_plan(p_user uuid, p_now timestamptz, p_grace interval)
RETURNS TABLE (plan text, standing text, period_start timestamptz, period_end timestamptz)
LANGUAGE sql STABLE AS $$
    WITH current AS (
        SELECT s.plan, s.period_start, s.period_end
        FROM billing.subscriptions s
        WHERE s.user_id = p_user AND s.status IN ('trial', 'active', 'past_due')
          AND p_now < s.period_end + CASE WHEN s.cancel_at_period_end THEN interval '0' ELSE p_grace END
    ), month AS (
        -- In UTC whatever the session's time zone: a month added to a timestamptz follows the zone.
        SELECT date_trunc('month', p_now AT TIME ZONE 'UTC') AS start
    )
    SELECT c.plan, 'subscribed', c.period_start, c.period_end FROM current c
    UNION ALL
    SELECT 'free',
           CASE WHEN EXISTS (SELECT 1 FROM billing.subscriptions WHERE user_id = p_user) THEN 'lapsed' ELSE 'none' END,
           month.start AT TIME ZONE 'UTC', (month.start + interval '1 month') AT TIME ZONE 'UTC'
    FROM month WHERE NOT EXISTS (SELECT 1 FROM current)
$$;

-- Reserves p_units of p_feature for request p_request, or says why not ('denied' with a reason).
-- Idempotent by request id: a reservation still open answers 'allowed' again without counting; one
-- already ended answers 'ended'; the same id for another user, feature or size 'conflict'. A
-- feature no plan has answers 'unknown_feature'. A reservation open for longer than p_open_ttl (its
-- caller crashed, or gave up before the answer) no longer counts as a task under way.
CREATE FUNCTION billing.reserve(p_user uuid, p_feature text, p_units integer, p_request text, p_now timestamptz, p_grace interval,
                                p_open_ttl interval)
RETURNS TABLE (decision text, reason text, remaining integer, resets_at timestamptz, retry_after integer)
LANGUAGE plpgsql AS $$
DECLARE
    found_row billing.usage_ledger;
    applied record;
    limits billing.plans;
    today date := (p_now AT TIME ZONE 'UTC')::date;
    next_day timestamptz := ((p_now AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC';
    used_today integer;
    used_period integer;
    running integer;
BEGIN
    -- Every decision about one user waits for the one before it, on every instance.
    PERFORM pg_advisory_xact_lock(hashtextextended('billing.usage:' || p_user::text, 0));
    SELECT * INTO found_row FROM billing.usage_ledger l WHERE l.request_id = p_request AND l.state = 'reserved';
    IF FOUND THEN
        IF found_row.user_id <> p_user OR found_row.feature <> p_feature OR found_row.units <> p_units THEN
            RETURN QUERY SELECT 'conflict', NULL::text, NULL::integer, NULL::timestamptz, NULL::integer;
            RETURN;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM billing.open_reservations o WHERE o.request_id = p_request) THEN
            RETURN QUERY SELECT 'ended', NULL::text, NULL::integer, NULL::timestamptz, NULL::integer;
            RETURN;
        END IF;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM billing.plans p WHERE p_feature = ANY (p.features)) THEN
        RETURN QUERY SELECT 'unknown_feature', NULL::text, NULL::integer, NULL::timestamptz, NULL::integer;
        RETURN;
    END IF;
    SELECT * INTO applied FROM billing.effective_plan(p_user, p_now, p_grace);
    SELECT * INTO limits FROM billing.plans p WHERE p.code = applied.plan;
    SELECT coalesce(sum(d.units), 0) INTO used_today FROM billing.usage_daily d WHERE d.user_id = p_user AND d.usage_day = today;
    SELECT coalesce(sum(u.units), 0) INTO used_period FROM billing.usage_period u WHERE u.user_id = p_user AND u.period_start = applied.period_start;

    IF found_row.request_id IS NOT NULL THEN
        RETURN QUERY SELECT 'allowed', NULL::text,
            greatest(least(limits.generations_per_day - used_today, limits.generations_per_month - used_period), 0),
            CASE WHEN limits.generations_per_day - used_today <= limits.generations_per_month - used_period THEN next_day ELSE applied.period_end END,
            NULL::integer;
        RETURN;
    END IF;

    IF NOT (p_feature = ANY (limits.features)) THEN
        RETURN QUERY SELECT 'denied',
            CASE applied.standing WHEN 'none' THEN 'no_subscription' WHEN 'lapsed' THEN 'subscription_expired' ELSE 'feature_not_in_plan' END,
            NULL::integer, NULL::timestamptz, NULL::integer;
        RETURN;
    END IF;
    SELECT count(*) INTO running FROM billing.open_reservations o WHERE o.user_id = p_user AND o.at > p_now - p_open_ttl;
    IF running >= limits.tasks_at_once THEN
        RETURN QUERY SELECT 'denied', 'too_many_tasks', NULL::integer, NULL::timestamptz, 1;
        RETURN;
    END IF;
    IF used_today + p_units > limits.generations_per_day THEN
        RETURN QUERY SELECT 'denied', 'quota_exceeded', greatest(limits.generations_per_day - used_today, 0), next_day,
            greatest(ceil(extract(epoch FROM next_day - p_now))::integer, 1);
        RETURN;
    END IF;
    IF used_period + p_units > limits.generations_per_month THEN
        RETURN QUERY SELECT 'denied', 'quota_exceeded', greatest(limits.generations_per_month - used_period, 0), applied.period_end,
            greatest(ceil(extract(epoch FROM applied.period_end - p_now))::integer, 1);
        RETURN;
    END IF;

    INSERT INTO billing.usage_ledger (request_id, state, user_id, feature, units, usage_day, period_start, at)
        VALUES (p_request, 'reserved', p_user, p_feature, p_units, today, applied.period_start, p_now)
        ON CONFLICT (request_id, state) DO NOTHING;
    IF NOT FOUND THEN
        -- The same id reserved at this moment for another user (whose lock is not ours).
        RETURN QUERY SELECT 'conflict', NULL::text, NULL::integer, NULL::timestamptz, NULL::integer;
        RETURN;
    END IF;
    INSERT INTO billing.usage_daily AS d (user_id, usage_day, units) VALUES (p_user, today, p_units)
        ON CONFLICT (user_id, usage_day) DO UPDATE SET units = d.units + excluded.units;
    INSERT INTO billing.usage_period AS u (user_id, period_start, units) VALUES (p_user, applied.period_start, p_units)
        ON CONFLICT (user_id, period_start) DO UPDATE SET units = u.units + excluded.units;
    INSERT INTO billing.open_reservations (request_id, user_id, at) VALUES (p_request, p_user, p_now);
    used_today := used_today + p_units;
    used_period := used_period + p_units;
    RETURN QUERY SELECT 'allowed', NULL::text,
        least(limits.generations_per_day - used_today, limits.generations_per_month - used_period),
        CASE WHEN limits.generations_per_day - used_today <= limits.generations_per_month - used_period THEN next_day ELSE applied.period_end END,
        NULL::integer;
END
$$;

-- Ends request p_request: 'settled' (the work was done; the units stay counted) or 'released' (it
-- failed or was canceled; the units come back). Idempotent: the same ending again answers 'ended'
-- as the first did; the other ending answers 'conflict'; an unknown request 'unknown'.
CREATE FUNCTION billing.finish(p_request text, p_ending text, p_now timestamptz)
RETURNS TABLE (outcome text, ending text)
LANGUAGE plpgsql AS $$
DECLARE
    reservation billing.usage_ledger;
    previous text;
BEGIN
    IF p_ending NOT IN ('settled', 'released') THEN
        RAISE EXCEPTION 'ending must be settled or released, not %', p_ending;
    END IF;
    SELECT * INTO reservation FROM billing.usage_ledger l WHERE l.request_id = p_request AND l.state = 'reserved';
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown', NULL::text;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('billing.usage:' || reservation.user_id::text, 0));
    SELECT l.state INTO previous FROM billing.usage_ledger l WHERE l.request_id = p_request AND l.state <> 'reserved';
    IF FOUND THEN
        RETURN QUERY SELECT CASE WHEN previous = p_ending THEN 'ended' ELSE 'conflict' END, previous;
        RETURN;
    END IF;
    INSERT INTO billing.usage_ledger (request_id, state, user_id, feature, units, usage_day, period_start, at)
        VALUES (p_request, p_ending, reservation.user_id, reservation.feature, reservation.units, reservation.usage_day, reservation.period_start, p_now);
    DELETE FROM billing.open_reservations o WHERE o.request_id = p_request;
    IF p_ending = 'released' THEN
        UPDATE billing.usage_daily d SET units = d.units - reservation.units
            WHERE d.user_id = reservation.user_id AND d.usage_day = reservation.usage_day;
        UPDATE billing.usage_period u SET units = u.units - reservation.units
            WHERE u.user_id = reservation.user_id AND u.period_start = reservation.period_start;
    END IF;
    RETURN QUERY SELECT 'ended', p_ending;
END
$$;

-- Moves subscriptions along with time, and says which moved: past the period end to past_due (or
-- canceled, when set to cancel at period end), past the period end plus p_grace to expired. Each
-- move raises tier_version (the tier sync writes the new tier) and is audited as the clock's. Only
-- one caller at a time does the work (the others return nothing at once), and a late run catches up
-- on everything due, since every move depends only on p_now.
CREATE FUNCTION billing.advance_subscriptions(p_now timestamptz, p_grace interval)
RETURNS TABLE (user_id uuid, status text)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('billing.advance_subscriptions', 0)) THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH moved AS (
        UPDATE billing.subscriptions s
        SET status = CASE WHEN s.cancel_at_period_end THEN 'canceled' ELSE 'past_due' END,
            updated_at = p_now, tier_version = s.tier_version + 1
        WHERE s.period_end <= p_now
          AND (s.status IN ('trial', 'active') OR (s.status = 'past_due' AND s.cancel_at_period_end))
        RETURNING s.user_id, s.status
    ), audited AS (
        INSERT INTO billing.audit (actor, action, user_id, detail)
        SELECT 'clock', m.status, m.user_id, '{}'::jsonb FROM moved m
    )
    SELECT m.user_id, m.status FROM moved m;
    RETURN QUERY
    WITH moved AS (
        UPDATE billing.subscriptions s
        SET status = 'expired', updated_at = p_now, tier_version = s.tier_version + 1
        WHERE s.status = 'past_due' AND s.period_end + p_grace <= p_now
        RETURNING s.user_id, s.status
    ), audited AS (
        INSERT INTO billing.audit (actor, action, user_id, detail)
        SELECT 'clock', m.status, m.user_id, '{}'::jsonb FROM moved m
    )
    SELECT m.user_id, m.status FROM moved m;
END
$$;
