-- subscribed decides reservations and endings in batches: everything that arrived while the
-- previous batch committed goes in one call of these functions, one transaction and one commit for
-- all. Each call is decided by billing.reserve or billing.finish, as before.
--
-- A batch holds many locks at once, so every batch takes them in one global order, and no two
-- batches can wait for each other in a cycle: first a lock per request id of a reservation batch
-- (two batches reserving one id for different users would otherwise wait on the ledger's unique
-- index while each holds a user the other needs), then the per-user locks (the key billing.reserve
-- and billing.finish take), each kind in ascending order of its lock key. A user's calls keep their
-- arrival order.

-- p_batch: a JSON array of {user, feature, units, request_id, max_tokens}. One row per call, `item`
-- its place in the array (from 0).
CREATE FUNCTION billing.reserve_batch(p_batch json, p_now timestamptz, p_grace interval, p_open_ttl interval)
RETURNS TABLE (item integer, decision text, reason text, remaining integer, resets_at timestamptz, retry_after integer, max_output_tokens integer)
LANGUAGE plpgsql AS $$
DECLARE
    key bigint;
    call record;
BEGIN
    FOR key IN
        SELECT DISTINCT hashtextextended('billing.request:' || (c.value->>'request_id'), 0) AS request_key
        FROM json_array_elements(p_batch) AS c(value) ORDER BY request_key
    LOOP
        PERFORM pg_advisory_xact_lock(key);
    END LOOP;
    FOR call IN
        SELECT (c.place - 1)::integer AS place, (c.value->>'user')::uuid AS user_id, c.value->>'feature' AS feature,
               (c.value->>'units')::integer AS units, c.value->>'request_id' AS request_id, (c.value->>'max_tokens')::integer AS max_tokens,
               hashtextextended('billing.usage:' || (c.value->>'user')::uuid::text, 0) AS user_key
        FROM json_array_elements(p_batch) WITH ORDINALITY AS c(value, place)
        ORDER BY user_key, place
    LOOP
        RETURN QUERY SELECT call.place, d.* FROM billing.reserve(call.user_id, call.feature, call.units, call.request_id, p_now, p_grace, p_open_ttl,
                                                              call.max_tokens) d;
    END LOOP;
END
$$;

-- p_batch: a JSON array of {request_id, ending}. The users are those of the reservations named, as
-- this statement's snapshot shows them (a reservation's row never changes); an id without one then
-- is answered unknown at once: its reservation, if any, was committed after this batch began, so
-- its ending comes first (billing.finish would find the row with a newer snapshot and take its
-- user's lock out of order).
CREATE FUNCTION billing.finish_batch(p_batch json, p_now timestamptz)
RETURNS TABLE (item integer, outcome text, ending text)
LANGUAGE plpgsql AS $$
DECLARE
    call record;
BEGIN
    FOR call IN
        SELECT (c.place - 1)::integer AS place, c.value->>'request_id' AS request_id, c.value->>'ending' AS ending,
               -- A lookup per call by the ledger's key: a join would be planned once, for a batch
               -- of any size and a ledger of any size, and may scan the whole ledger.
               (SELECT hashtextextended('billing.usage:' || l.user_id::text, 0) FROM billing.usage_ledger l
                WHERE l.request_id = c.value->>'request_id' AND l.state = 'reserved') AS user_key
        FROM json_array_elements(p_batch) WITH ORDINALITY AS c(value, place)
        ORDER BY user_key NULLS FIRST, place
    LOOP
        IF call.user_key IS NULL THEN
            RETURN QUERY SELECT call.place, 'unknown'::text, NULL::text;
        ELSE
            RETURN QUERY SELECT call.place, f.* FROM billing.finish(call.request_id, call.ending, p_now) f;
        END IF;
    END LOOP;
END
$$;

-- The abandoned reservations are released as one batch of endings, their users' locks in the same
-- order as every batch's.
CREATE OR REPLACE FUNCTION billing.release_abandoned(p_now timestamptz, p_after interval)
RETURNS TABLE (request_id text)
LANGUAGE sql AS $$
    WITH abandoned AS (
        SELECT o.request_id FROM billing.open_reservations o WHERE o.at < p_now - p_after ORDER BY o.at LIMIT 1000
    ), batch AS (
        SELECT json_agg(json_build_object('request_id', a.request_id, 'ending', 'released')) AS calls,
               array_agg(a.request_id) AS ids
        FROM abandoned a
    )
    SELECT b.ids[f.item + 1] FROM batch b CROSS JOIN LATERAL billing.finish_batch(b.calls, p_now) f WHERE b.calls IS NOT NULL AND f.outcome = 'ended'
$$;
