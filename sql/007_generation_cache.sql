-- aid's result cache: which generations were answered from it, and whether a plan counts such an
-- answer against its quota (a plan setting; by default it does, like any other answer). And the
-- lease of a running task, so that two deliveries of one task never run its engine call at once.
-- And the release of reservations their caller abandoned.

ALTER TABLE billing.plans ADD COLUMN cached_answers_count boolean NOT NULL DEFAULT true;

ALTER TABLE ai.generations ADD COLUMN cached boolean NOT NULL DEFAULT false;

-- The genworker handler running a task holds it until lease_until, renewing it while its engine call
-- runs; another delivery of the task waits for the task to end or for the lease to run out (its
-- holder died).
ALTER TABLE ai.generations ADD COLUMN lease_owner uuid, ADD COLUMN lease_until timestamptz;

-- Whether the plan in effect when request p_request was reserved counts an answer from the cache;
-- NULL for an unknown request. The same however often it is asked (the 'reserved' row stays in the
-- ledger after the reservation ended, and its time does not move), so that asking to settle again
-- gives the same ending.
CREATE FUNCTION billing.cached_answers_count(p_request text, p_grace interval)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p.cached_answers_count
    FROM billing.usage_ledger l
    CROSS JOIN LATERAL billing.effective_plan(l.user_id, l.at, p_grace) e
    JOIN billing.plans p ON p.code = e.plan
    WHERE l.request_id = p_request AND l.state = 'reserved'
$$;

-- Releases reservations still open at p_now that were made before p_now - p_after: their caller
-- crashed between reserving and ending them (aid stopped mid-request, say), and nothing else would
-- ever give their units back. At most 1000 a call; the request ids released.
CREATE FUNCTION billing.release_abandoned(p_now timestamptz, p_after interval)
RETURNS TABLE (request_id text)
LANGUAGE plpgsql AS $$
DECLARE
    abandoned text;
BEGIN
    FOR abandoned IN
        SELECT o.request_id FROM billing.open_reservations o WHERE o.at < p_now - p_after ORDER BY o.at LIMIT 1000
    LOOP
        PERFORM billing.finish(abandoned, 'released', p_now);
        request_id := abandoned;
        RETURN NEXT;
    END LOOP;
END
$$;
