-- A batch of finished pushes merges its rows once (issue 21).
--
-- Migration 0040 gathered the rows of each recorded push by appending them to one growing object
-- (hub_rows_append), which copied everything gathered so far at every append: 0.12 ms a call, three calls
-- a push, 4.4 s of PostgreSQL's time in a drain of 12,000 (pg_stat_user_functions, docs/performance.md
-- step 21.10). Each push's rows now go on an array as they are, and are merged once after the loop.

DROP FUNCTION hub_rows_append(jsonb, jsonb);

-- The rows of `parts` (each the rows hub_record_rows takes: kind -> array) as one such object, each kind's
-- rows in the order of the parts, then of the rows within each; empty kinds left out.
CREATE FUNCTION hub_rows_merged(parts jsonb[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(g.kind, g.rows), '{}')
    FROM (
        SELECT kv.key AS kind, jsonb_agg(r.value ORDER BY p.n, r.n) AS rows
        FROM unnest(parts) WITH ORDINALITY AS p(part, n)
        CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(p.part) = 'object' THEN p.part ELSE '{}' END) AS kv
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(kv.value) = 'array' THEN kv.value ELSE '[]' END) WITH ORDINALITY AS r(value, n)
        GROUP BY kv.key
    ) g
$$;

CREATE OR REPLACE FUNCTION hub_finish_pushes(pushes jsonb) RETURNS TABLE (seq bigint, recorded boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    push jsonb;
    f jsonb;
    done_seq bigint;
    party_state text;
    moved_to text;
    parts jsonb[] := '{}';  -- what each recorded push writes, in order: merged and written after the loop
BEGIN
    FOR push IN SELECT value FROM jsonb_array_elements(pushes) WITH ORDINALITY AS e(value, n) ORDER BY n LOOP
        f := push->'finish';
        WITH done AS (
            UPDATE deliveries d
            SET state = 'delivered', delivered_at = (f->>'at')::timestamptz, evidence = f->>'evidence',
                last_status = (f->>'http_status')::integer, last_error = NULL, lease_token = NULL,
                lease_expires_at = NULL, due_at = NULL
            WHERE d.seq = (f->>'seq')::bigint AND d.lease_token = (f->>'lease_token')::uuid
            RETURNING d.seq, d.recipient_id, d.destination
        ), attempt AS (
            INSERT INTO delivery_attempts (delivery_seq, attempt, worker, started_at, finished_at, verdict,
                                           http_status, detail)
            SELECT done.seq, (f->>'attempt')::integer, f->>'worker', (f->>'started_at')::timestamptz,
                   (f->>'at')::timestamptz, 'delivered', (f->>'http_status')::integer, f->>'detail'
            FROM done
        ), destination AS (
            -- Only when there is something to reset, or the last success is a second old: every push of a
            -- destination updating its one row would make them (and intake) queue on that row's lock.
            UPDATE destinations t
            SET consecutive_failures = 0, consecutive_refusals = 0, next_attempt_at = NULL,
                last_success_at = (f->>'at')::timestamptz
            WHERE (t.participant_id, t.name) IN (SELECT done.recipient_id, done.destination FROM done
                                                 UNION SELECT hub_destination_of(done.recipient_id), ''
                                                 FROM done WHERE done.destination = '')
              AND (t.consecutive_failures <> 0 OR t.consecutive_refusals <> 0 OR t.next_attempt_at IS NOT NULL
                   OR t.last_success_at IS NULL
                   OR t.last_success_at < (f->>'at')::timestamptz - interval '1 second')
        ), before AS (
            -- Read (and locked) before `moved` changes it: `moved` reads this, so it runs first.
            SELECT cp.case_id, cp.participant_id, cp.state
            FROM case_parties cp
            WHERE cp.case_id = (f->>'case_id')::uuid AND cp.participant_id = (SELECT done.recipient_id FROM done)
              AND cp.role = 'recipient'
            FOR UPDATE
        ), moved AS (
            UPDATE case_parties cp SET state = f->>'to_state', state_changed_at = (f->>'at')::timestamptz
            FROM before
            WHERE (f->>'referral')::boolean AND cp.case_id = before.case_id
              AND cp.participant_id = before.participant_id AND cp.role = 'recipient'
              AND before.state = ANY (hub_text_array(f->'moves_from'))
            RETURNING cp.state
        )
        SELECT done.seq, (SELECT state FROM before), (SELECT state FROM moved)
        INTO done_seq, party_state, moved_to
        FROM done;
        IF done_seq IS NULL THEN
            seq := (f->>'seq')::bigint;
            recorded := false;
            RETURN NEXT;
            CONTINUE;
        END IF;
        parts := parts || (push->'told');
        IF moved_to IS NOT NULL THEN
            parts := parts || (push->'moved'->party_state);
        END IF;
        parts := parts || coalesce(push->'clocks_when'->party_state, push->'clocks');
        seq := done_seq;
        recorded := true;
        RETURN NEXT;
    END LOOP;
    IF cardinality(parts) > 0 THEN
        PERFORM hub_record_rows(hub_rows_merged(parts));
    END IF;
END
$$;
