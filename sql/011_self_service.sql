-- Self-service: a user changes their own subscription. A move to a cheaper plan waits for the
-- period's end (scheduled_plan), where the clock applies it; users get the scope that allows these
-- changes (subscription:manage), new accounts by default and existing ones now.

ALTER TABLE billing.subscriptions ADD COLUMN scheduled_plan text REFERENCES billing.plans (code);
-- Who asked for the cancel at period end (the audit's actor): a user resumes only their own, never
-- an admin's.
ALTER TABLE billing.subscriptions ADD COLUMN cancel_requested_by text;

-- As sql/005's, and past its period end a subscription moves to its scheduled plan (whose next
-- period its user then pays for, as any past-due subscription).
CREATE OR REPLACE FUNCTION billing.advance_subscriptions(p_now timestamptz, p_grace interval)
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
            plan = CASE WHEN s.cancel_at_period_end THEN s.plan ELSE coalesce(s.scheduled_plan, s.plan) END,
            scheduled_plan = NULL,
            updated_at = p_now, tier_version = s.tier_version + 1
        WHERE s.period_end <= p_now
          AND (s.status IN ('trial', 'active') OR (s.status = 'past_due' AND s.cancel_at_period_end))
        RETURNING s.user_id, s.status, s.plan
    ), audited AS (
        INSERT INTO billing.audit (actor, action, user_id, detail)
        SELECT 'clock', m.status, m.user_id, jsonb_build_object('plan', m.plan) FROM moved m
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

ALTER TABLE auth.users ALTER COLUMN scopes SET DEFAULT 'generate subscription:read subscription:manage profile';
UPDATE auth.users SET scopes = scopes || ' subscription:manage'
WHERE ' ' || scopes || ' ' LIKE '% subscription:read %' AND ' ' || scopes || ' ' NOT LIKE '% subscription:manage %';
