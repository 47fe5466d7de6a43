-- A request refused by both quotas is refused for the period's: its retry_after is the period's end,
-- where the day's reset alone would not let the retry through (subscribed's answer already named the
-- period's quota, with a retry_after that said the next midnight).

-- As sql/008's billing.reserve, with the period's quota checked before the day's.
CREATE OR REPLACE FUNCTION billing.reserve(p_user uuid, p_feature text, p_units integer, p_request text, p_now timestamptz, p_grace interval,
                                p_open_ttl interval, p_max_tokens integer DEFAULT NULL)
RETURNS TABLE (decision text, reason text, remaining integer, resets_at timestamptz, retry_after integer, max_output_tokens integer)
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
            RETURN QUERY SELECT 'conflict', NULL::text, NULL::integer, NULL::timestamptz, NULL::integer, NULL::integer;
            RETURN;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM billing.open_reservations o WHERE o.request_id = p_request) THEN
            RETURN QUERY SELECT 'ended', NULL::text, NULL::integer, NULL::timestamptz, NULL::integer, NULL::integer;
            RETURN;
        END IF;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM billing.plans p WHERE p_feature = ANY (p.features)) THEN
        RETURN QUERY SELECT 'unknown_feature', NULL::text, NULL::integer, NULL::timestamptz, NULL::integer, NULL::integer;
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
            NULL::integer, limits.max_output_tokens;
        RETURN;
    END IF;

    IF NOT (p_feature = ANY (limits.features)) THEN
        RETURN QUERY SELECT 'denied',
            CASE applied.standing WHEN 'none' THEN 'no_subscription' WHEN 'lapsed' THEN 'subscription_expired' ELSE 'feature_not_in_plan' END,
            NULL::integer, NULL::timestamptz, NULL::integer, NULL::integer;
        RETURN;
    END IF;
    IF p_max_tokens IS NOT NULL AND p_max_tokens > limits.max_output_tokens THEN
        RETURN QUERY SELECT 'denied', 'max_tokens_exceeded', NULL::integer, NULL::timestamptz, NULL::integer, limits.max_output_tokens;
        RETURN;
    END IF;
    SELECT count(*) INTO running FROM billing.open_reservations o WHERE o.user_id = p_user AND o.at > p_now - p_open_ttl;
    IF running >= limits.tasks_at_once THEN
        RETURN QUERY SELECT 'denied', 'too_many_tasks', NULL::integer, NULL::timestamptz, 1, NULL::integer;
        RETURN;
    END IF;
    IF used_period + p_units > limits.generations_per_month THEN
        RETURN QUERY SELECT 'denied', 'quota_exceeded', greatest(limits.generations_per_month - used_period, 0), applied.period_end,
            greatest(ceil(extract(epoch FROM applied.period_end - p_now))::integer, 1), NULL::integer;
        RETURN;
    END IF;
    IF used_today + p_units > limits.generations_per_day THEN
        RETURN QUERY SELECT 'denied', 'quota_exceeded', greatest(limits.generations_per_day - used_today, 0), next_day,
            greatest(ceil(extract(epoch FROM next_day - p_now))::integer, 1), NULL::integer;
        RETURN;
    END IF;

    INSERT INTO billing.usage_ledger (request_id, state, user_id, feature, units, usage_day, period_start, at)
        VALUES (p_request, 'reserved', p_user, p_feature, p_units, today, applied.period_start, p_now)
        ON CONFLICT (request_id, state) DO NOTHING;
    IF NOT FOUND THEN
        -- The same id reserved at this moment for another user (whose lock is not ours).
        RETURN QUERY SELECT 'conflict', NULL::text, NULL::integer, NULL::timestamptz, NULL::integer, NULL::integer;
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
        NULL::integer, limits.max_output_tokens;
END
$$;
