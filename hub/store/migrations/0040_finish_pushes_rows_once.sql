-- A batch of successful pushes writes its rows in one call of hub_record_rows (issue 21).
--
-- As in migration 0030, but the rows each recorded push writes (its timeline entries, its recipient's move,
-- the clocks it starts) are gathered in the loop and written once after it, instead of two or three calls
-- of hub_record_rows per push. No push of a batch reads what another writes through them (they are
-- timeline entries and clocks, each its own; the state move is made in the loop), and the entries keep
-- their order: each kind's rows are appended in the order the pushes were recorded.

-- `a` with each kind's rows of `b` appended (the rows hub_record_rows takes: kind -> array); empty kinds
-- left out.
CREATE FUNCTION hub_rows_append(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(k, coalesce(x.a->k, '[]') || coalesce(x.b->k, '[]')), '{}')
    FROM (SELECT CASE WHEN jsonb_typeof(a) = 'object' THEN a ELSE '{}' END AS a,
                 CASE WHEN jsonb_typeof(b) = 'object' THEN b ELSE '{}' END AS b) x,
         LATERAL (SELECT jsonb_object_keys(x.a) UNION SELECT jsonb_object_keys(x.b)) AS keys(k)
    WHERE coalesce(x.a->k, '[]') <> '[]' OR coalesce(x.b->k, '[]') <> '[]'
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
    rows jsonb := '{}';  -- what the recorded pushes write, gathered: written once, after the loop
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
        rows := hub_rows_append(rows, push->'told');
        IF moved_to IS NOT NULL THEN
            rows := hub_rows_append(rows, push->'moved'->party_state);
        END IF;
        rows := hub_rows_append(rows, coalesce(push->'clocks_when'->party_state, push->'clocks'));
        seq := done_seq;
        recorded := true;
        RETURN NEXT;
    END LOOP;
    IF rows <> '{}' THEN
        PERFORM hub_record_rows(rows);
    END IF;
END
$$;
