-- Prepaid balances for the developers' API (/v1, issue 36), kept by subscribed in integer
-- micro-units of the balance's currency (1 USD = 1,000,000 µ): nothing that counts money is ever a
-- floating-point number. A balance belongs to a team; a user's own team has the user's id.
--
-- A request reserves its bound before any engine work (the most it can cost: its input's bound and
-- its max_tokens at the model's prices) and settles its actual usage after: it is charged the cost,
-- never more than the bound, and the rest comes back. Decided as the quotas are (sql/005, sql/018):
-- one transaction writes the append-only ledger row and the counters it moves, under the team's
-- advisory lock, so no retry, race between instances or crash charges twice, loses a top-up or takes
-- a balance below zero; a request's bound is held in billing.open_holds until it ends.

-- The ledger's trigger names the table it guards (sql/005 wrote it for usage_ledger only).
CREATE OR REPLACE FUNCTION billing.refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME;
END
$$;

CREATE TABLE billing.balances (
    team_id    uuid PRIMARY KEY,
    -- What new requests may reserve: topped up, less charged, less held.
    available  bigint NOT NULL DEFAULT 0 CHECK (available >= 0),
    -- Held by requests under way: the sum of their open holds.
    reserved   bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE billing.balances OWNER TO skillup_billing;

-- Append-only: a top-up is one row; a request's reservation, and later its settlement or release,
-- are rows of their own.
CREATE TABLE billing.balance_ledger (
    request_id    text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128 AND request_id !~ '[^A-Za-z0-9._:-]'),
    state         text NOT NULL CHECK (state IN ('topped_up', 'reserved', 'settled', 'released')),
    team_id       uuid NOT NULL,
    key_id        uuid,
    model         text CHECK (length(model) BETWEEN 1 AND 128),
    -- topped_up: credited; reserved: the bound held; settled: charged; released: the bound returned.
    amount        bigint NOT NULL CHECK (amount >= 0),
    -- µ per million tokens, as reserved: the settlement prices by these, whatever changed since.
    input_price   bigint CHECK (input_price >= 0),
    output_price  bigint CHECK (output_price >= 0),
    input_tokens  bigint CHECK (input_tokens >= 0),
    output_tokens bigint CHECK (output_tokens >= 0),
    -- Whose count the tokens are: the provider's, or aid's own when the provider gave none.
    usage_source  text CHECK (usage_source IN ('provider', 'counted')),
    -- The cost above the bound: recorded, never charged.
    uncharged     bigint NOT NULL DEFAULT 0 CHECK (uncharged >= 0),
    -- The UTC day the reservation counts against: its key's daily limit, the usage by day.
    spend_day     date NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, state),
    CHECK (state = 'topped_up' OR (key_id IS NOT NULL AND model IS NOT NULL AND input_price IS NOT NULL AND output_price IS NOT NULL))
);
-- A request ends once: settled or released, never both.
CREATE UNIQUE INDEX balance_ledger_one_ending ON billing.balance_ledger (request_id) WHERE state IN ('settled', 'released');
CREATE INDEX balance_ledger_team ON billing.balance_ledger (team_id, at);
ALTER TABLE billing.balance_ledger OWNER TO skillup_billing;
CREATE TRIGGER balance_ledger_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON billing.balance_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION billing.refuse_ledger_change();

-- Requests reserved and not ended yet, with the bound each holds.
CREATE TABLE billing.open_holds (
    request_id text PRIMARY KEY,
    team_id    uuid NOT NULL,
    amount     bigint NOT NULL CHECK (amount >= 0),
    at         timestamptz NOT NULL
);
CREATE INDEX open_holds_at ON billing.open_holds (at);
ALTER TABLE billing.open_holds OWNER TO skillup_billing;

-- What a key has spent on a UTC day against its daily limit: its open holds and its charges.
CREATE TABLE billing.key_spend_daily (
    key_id    uuid NOT NULL,
    spend_day date NOT NULL,
    committed bigint NOT NULL CHECK (committed >= 0),
    PRIMARY KEY (key_id, spend_day)
);
ALTER TABLE billing.key_spend_daily OWNER TO skillup_billing;

-- The settled requests summed per team, UTC day, key and model: the usage report's rows.
CREATE TABLE billing.usage_by_key (
    team_id       uuid NOT NULL,
    usage_day     date NOT NULL,
    key_id        uuid NOT NULL,
    model         text NOT NULL,
    requests      bigint NOT NULL CHECK (requests >= 0),
    input_tokens  bigint NOT NULL CHECK (input_tokens >= 0),
    output_tokens bigint NOT NULL CHECK (output_tokens >= 0),
    cost          bigint NOT NULL CHECK (cost >= 0),
    PRIMARY KEY (team_id, usage_day, key_id, model)
);
ALTER TABLE billing.usage_by_key OWNER TO skillup_billing;

-- Holds p_amount of team p_team's balance for request p_request of key p_key, priced at
-- p_input_price and p_output_price (µ per million tokens) for model p_model. Denied, writing
-- nothing: 'key_daily_limit' when the key's holds and charges of the UTC day plus p_amount would
-- pass p_key_limit (none when NULL), with the seconds to the next UTC midnight; 'insufficient_balance'
-- when the balance has less than p_amount available. Idempotent by request id: the same reservation
-- again, while open, is allowed again; once ended it is 'ended'; the id reserved otherwise is a
-- 'conflict'.
CREATE FUNCTION billing.balance_reserve(p_team uuid, p_key uuid, p_request text, p_model text, p_amount bigint, p_input_price bigint,
                                        p_output_price bigint, p_key_limit bigint, p_now timestamptz)
RETURNS TABLE (decision text, reason text, available bigint, retry_after integer)
LANGUAGE plpgsql AS $$
DECLARE
    found_row billing.balance_ledger;
    today date := (p_now AT TIME ZONE 'UTC')::date;
    next_day timestamptz := ((p_now AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC';
    left_now bigint;
    spent_today bigint;
BEGIN
    -- Every decision about one balance waits for the one before it, on every instance.
    PERFORM pg_advisory_xact_lock(hashtextextended('billing.balance:' || p_team::text, 0));
    SELECT coalesce((SELECT b.available FROM billing.balances b WHERE b.team_id = p_team), 0) INTO left_now;
    SELECT * INTO found_row FROM billing.balance_ledger l WHERE l.request_id = p_request AND l.state = 'reserved';
    IF FOUND THEN
        IF (found_row.team_id, found_row.key_id, found_row.model, found_row.amount, found_row.input_price, found_row.output_price)
           IS DISTINCT FROM (p_team, p_key, p_model, p_amount, p_input_price, p_output_price) THEN
            RETURN QUERY SELECT 'conflict', NULL::text, NULL::bigint, NULL::integer;
        ELSIF EXISTS (SELECT 1 FROM billing.open_holds h WHERE h.request_id = p_request) THEN
            RETURN QUERY SELECT 'allowed', NULL::text, left_now, NULL::integer;
        ELSE
            RETURN QUERY SELECT 'ended', NULL::text, NULL::bigint, NULL::integer;
        END IF;
        RETURN;
    END IF;

    IF p_key_limit IS NOT NULL THEN
        SELECT coalesce((SELECT k.committed FROM billing.key_spend_daily k WHERE k.key_id = p_key AND k.spend_day = today), 0) INTO spent_today;
        IF spent_today + p_amount > p_key_limit THEN
            RETURN QUERY SELECT 'denied', 'key_daily_limit', left_now, greatest(ceil(extract(epoch FROM next_day - p_now))::integer, 1);
            RETURN;
        END IF;
    END IF;
    IF left_now < p_amount THEN
        RETURN QUERY SELECT 'denied', 'insufficient_balance', left_now, NULL::integer;
        RETURN;
    END IF;

    INSERT INTO billing.balance_ledger (request_id, state, team_id, key_id, model, amount, input_price, output_price, spend_day, at)
        VALUES (p_request, 'reserved', p_team, p_key, p_model, p_amount, p_input_price, p_output_price, today, p_now)
        ON CONFLICT (request_id, state) DO NOTHING;
    IF NOT FOUND THEN
        -- The same id reserved at this moment for another team (whose lock is not ours).
        RETURN QUERY SELECT 'conflict', NULL::text, NULL::bigint, NULL::integer;
        RETURN;
    END IF;
    -- No balance row means nothing available, so only a bound of 0 gets here without one.
    UPDATE billing.balances b SET available = b.available - p_amount, reserved = b.reserved + p_amount, updated_at = p_now WHERE b.team_id = p_team;
    INSERT INTO billing.open_holds (request_id, team_id, amount, at) VALUES (p_request, p_team, p_amount, p_now);
    INSERT INTO billing.key_spend_daily AS k (key_id, spend_day, committed) VALUES (p_key, today, p_amount)
        ON CONFLICT (key_id, spend_day) DO UPDATE SET committed = k.committed + excluded.committed;
    RETURN QUERY SELECT 'allowed', NULL::text, left_now - p_amount, NULL::integer;
END
$$;

-- Ends request p_request's hold: 'settled' charges the cost of p_input_tokens and p_output_tokens at
-- the reserved prices, rounded up to a whole µ and at most the bound (the cost above it is recorded
-- as uncharged), and returns the rest; 'released' returns the whole bound. Idempotent: the same
-- ending again (for a settlement, with the same tokens) answers 'ended' with the first's figures;
-- any other ending after one answers 'conflict'; an unknown request 'unknown'.
CREATE FUNCTION billing.balance_finish(p_request text, p_ending text, p_input_tokens bigint, p_output_tokens bigint, p_usage_source text,
                                       p_now timestamptz)
RETURNS TABLE (outcome text, ending text, charged bigint, uncharged bigint)
LANGUAGE plpgsql AS $$
DECLARE
    hold billing.balance_ledger;
    previous billing.balance_ledger;
    cost bigint := 0;
    charge bigint := 0;
BEGIN
    IF p_ending NOT IN ('settled', 'released') THEN
        RAISE EXCEPTION 'ending must be settled or released, not %', p_ending;
    END IF;
    SELECT * INTO hold FROM billing.balance_ledger l WHERE l.request_id = p_request AND l.state = 'reserved';
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown', NULL::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('billing.balance:' || hold.team_id::text, 0));
    SELECT * INTO previous FROM billing.balance_ledger l WHERE l.request_id = p_request AND l.state IN ('settled', 'released');
    IF FOUND THEN
        IF previous.state = p_ending AND (p_ending = 'released'
           OR (previous.input_tokens = p_input_tokens AND previous.output_tokens = p_output_tokens)) THEN
            RETURN QUERY SELECT 'ended', previous.state, CASE previous.state WHEN 'settled' THEN previous.amount ELSE 0 END, previous.uncharged;
        ELSE
            RETURN QUERY SELECT 'conflict', previous.state, NULL::bigint, NULL::bigint;
        END IF;
        RETURN;
    END IF;

    IF p_ending = 'settled' THEN
        cost := ceil((p_input_tokens::numeric * hold.input_price + p_output_tokens::numeric * hold.output_price) / 1000000)::bigint;
        charge := least(cost, hold.amount);
        INSERT INTO billing.balance_ledger (request_id, state, team_id, key_id, model, amount, input_price, output_price, input_tokens, output_tokens,
                                            usage_source, uncharged, spend_day, at)
            VALUES (p_request, 'settled', hold.team_id, hold.key_id, hold.model, charge, hold.input_price, hold.output_price, p_input_tokens,
                    p_output_tokens, p_usage_source, cost - charge, hold.spend_day, p_now);
        INSERT INTO billing.usage_by_key AS u (team_id, usage_day, key_id, model, requests, input_tokens, output_tokens, cost)
            VALUES (hold.team_id, hold.spend_day, hold.key_id, hold.model, 1, p_input_tokens, p_output_tokens, charge)
            ON CONFLICT (team_id, usage_day, key_id, model) DO UPDATE
            SET requests = u.requests + 1, input_tokens = u.input_tokens + excluded.input_tokens,
                output_tokens = u.output_tokens + excluded.output_tokens, cost = u.cost + excluded.cost;
    ELSE
        INSERT INTO billing.balance_ledger (request_id, state, team_id, key_id, model, amount, input_price, output_price, spend_day, at)
            VALUES (p_request, 'released', hold.team_id, hold.key_id, hold.model, hold.amount, hold.input_price, hold.output_price, hold.spend_day, p_now);
    END IF;
    UPDATE billing.balances b SET available = b.available + hold.amount - charge, reserved = b.reserved - hold.amount, updated_at = p_now
        WHERE b.team_id = hold.team_id;
    UPDATE billing.key_spend_daily k SET committed = k.committed - (hold.amount - charge) WHERE k.key_id = hold.key_id AND k.spend_day = hold.spend_day;
    DELETE FROM billing.open_holds h WHERE h.request_id = p_request;
    RETURN QUERY SELECT 'ended', p_ending, charge, cost - charge;
END
$$;

-- Decides a batch of reservations in one transaction, as sql/018's billing.reserve_batch: a lock per
-- request id, then per team, each kind in ascending order of its key; a team's calls in arrival
-- order. p_batch: a JSON array of {team, key, request_id, model, amount, input_price, output_price,
-- key_limit}; one row per call, `item` its place (from 0).
CREATE FUNCTION billing.balance_reserve_batch(p_batch json, p_now timestamptz)
RETURNS TABLE (item integer, decision text, reason text, available bigint, retry_after integer)
LANGUAGE plpgsql AS $$
DECLARE
    key bigint;
    call record;
BEGIN
    FOR key IN
        SELECT DISTINCT hashtextextended('billing.balance-request:' || (c.value->>'request_id'), 0) AS request_key
        FROM json_array_elements(p_batch) AS c(value) ORDER BY request_key
    LOOP
        PERFORM pg_advisory_xact_lock(key);
    END LOOP;
    FOR call IN
        SELECT (c.place - 1)::integer AS place, (c.value->>'team')::uuid AS team_id, (c.value->>'key')::uuid AS key_id,
               c.value->>'request_id' AS request_id, c.value->>'model' AS model, (c.value->>'amount')::bigint AS amount,
               (c.value->>'input_price')::bigint AS input_price, (c.value->>'output_price')::bigint AS output_price,
               (c.value->>'key_limit')::bigint AS key_limit,
               hashtextextended('billing.balance:' || (c.value->>'team')::uuid::text, 0) AS team_key
        FROM json_array_elements(p_batch) WITH ORDINALITY AS c(value, place)
        ORDER BY team_key, place
    LOOP
        RETURN QUERY SELECT call.place, d.* FROM billing.balance_reserve(call.team_id, call.key_id, call.request_id, call.model, call.amount,
                                                                       call.input_price, call.output_price, call.key_limit, p_now) d;
    END LOOP;
END
$$;

-- Ends a batch of holds in one transaction, the teams' locks in the order every batch takes them
-- (sql/018's billing.finish_batch says why an id unknown to this statement's snapshot is answered
-- at once). p_batch: a JSON array of {request_id, ending, input_tokens, output_tokens, usage_source}.
CREATE FUNCTION billing.balance_finish_batch(p_batch json, p_now timestamptz)
RETURNS TABLE (item integer, outcome text, ending text, charged bigint, uncharged bigint)
LANGUAGE plpgsql AS $$
DECLARE
    call record;
BEGIN
    FOR call IN
        SELECT (c.place - 1)::integer AS place, c.value->>'request_id' AS request_id, c.value->>'ending' AS ending,
               (c.value->>'input_tokens')::bigint AS input_tokens, (c.value->>'output_tokens')::bigint AS output_tokens,
               c.value->>'usage_source' AS usage_source,
               (SELECT hashtextextended('billing.balance:' || l.team_id::text, 0) FROM billing.balance_ledger l
                WHERE l.request_id = c.value->>'request_id' AND l.state = 'reserved') AS team_key
        FROM json_array_elements(p_batch) WITH ORDINALITY AS c(value, place)
        ORDER BY team_key NULLS FIRST, place
    LOOP
        IF call.team_key IS NULL THEN
            RETURN QUERY SELECT call.place, 'unknown'::text, NULL::text, NULL::bigint, NULL::bigint;
        ELSE
            RETURN QUERY SELECT call.place, f.* FROM billing.balance_finish(call.request_id, call.ending, call.input_tokens, call.output_tokens,
                                                                          call.usage_source, p_now) f;
        END IF;
    END LOOP;
END
$$;

-- Releases holds left open longer than p_after (their caller stopped before ending them) as one
-- batch of endings, at most 1000 a call: their bound comes back whole, nothing is charged.
CREATE FUNCTION billing.release_abandoned_holds(p_now timestamptz, p_after interval)
RETURNS TABLE (request_id text)
LANGUAGE sql AS $$
    WITH abandoned AS (
        SELECT h.request_id FROM billing.open_holds h WHERE h.at < p_now - p_after ORDER BY h.at LIMIT 1000
    ), batch AS (
        SELECT json_agg(json_build_object('request_id', a.request_id, 'ending', 'released')) AS calls, array_agg(a.request_id) AS ids
        FROM abandoned a
    )
    SELECT b.ids[f.item + 1] FROM batch b CROSS JOIN LATERAL billing.balance_finish_batch(b.calls, p_now) f WHERE b.calls IS NOT NULL AND f.outcome = 'ended'
$$;

-- Credits p_amount to team p_team's balance for the payment provider's event p_event_id, once: a
-- redelivered event is recorded already and answers 'duplicate', changing nothing. Audited as
-- p_actor's.
CREATE FUNCTION billing.balance_top_up(p_provider text, p_event_id text, p_team uuid, p_amount bigint, p_occurred timestamptz, p_actor text,
                                       p_now timestamptz)
RETURNS TABLE (outcome text, available bigint)
LANGUAGE plpgsql AS $$
DECLARE
    balance bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('billing.balance:' || p_team::text, 0));
    INSERT INTO billing.webhook_events (provider, event_id, type, user_id, occurred_at)
        VALUES (p_provider, p_event_id, 'balance.topped_up', p_team, p_occurred) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'duplicate', coalesce((SELECT b.available FROM billing.balances b WHERE b.team_id = p_team), 0);
        RETURN;
    END IF;
    -- The ledger's id rule takes no provider's id as it is: a digest of it names the row.
    INSERT INTO billing.balance_ledger (request_id, state, team_id, amount, spend_day, at)
        VALUES ('topup.' || md5(p_provider || ':' || p_event_id), 'topped_up', p_team, p_amount, (p_now AT TIME ZONE 'UTC')::date, p_now);
    INSERT INTO billing.balances AS b (team_id, available, updated_at) VALUES (p_team, p_amount, p_now)
        ON CONFLICT (team_id) DO UPDATE SET available = b.available + excluded.available, updated_at = p_now
        RETURNING b.available INTO balance;
    INSERT INTO billing.audit (actor, action, user_id, detail)
        VALUES (p_actor, 'balance.topped_up', p_team, json_build_object('amount', p_amount, 'provider', p_provider, 'event_id', p_event_id)::jsonb);
    RETURN QUERY SELECT 'applied', balance;
END
$$;
