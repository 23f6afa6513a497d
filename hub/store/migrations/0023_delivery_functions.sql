-- Issue 21: a delivery round's claim and a batch of finished pushes, one statement each. What
-- hub/store/queries/delivery.sql held as named queries (due_destinations, lock_destination,
-- claim_deliveries, hold_parked_deliveries, finish_delivered) lives here now, each once: the per-row
-- calls (one destination, one push) go through the same functions as the batch.

-- The destinations with claimable work (pending and due, or in flight with an expired lease), not parked,
-- not backing off and with a free in-flight slot (`cap`), the longest-waiting first: a destination at its
-- cap must not crowd out one that could be served. It walks the destinations (few) and asks each one's
-- indexes, so its cost does not grow with the number of deliveries waiting.
CREATE FUNCTION hub_due_destinations(p_at timestamptz, p_limit integer, p_cap integer)
RETURNS TABLE (recipient_id text) LANGUAGE sql STABLE AS $$
    SELECT t.participant_id
    FROM destinations t
    CROSS JOIN LATERAL (
        SELECT least(
            (SELECT d.seq FROM deliveries d  -- row comparisons and this order: see hub_claim_for
             WHERE (d.recipient_id, d.seq) > (t.participant_id, 0)
               AND (d.recipient_id, d.seq) <= (t.participant_id, 9223372036854775807)
               AND d.state = 'pending' AND d.channel = 'push' AND d.due_at <= p_at
             ORDER BY d.recipient_id, d.seq LIMIT 1),
            (SELECT min(d.seq) FROM deliveries d
             WHERE d.recipient_id = t.participant_id AND d.state = 'in_flight' AND d.lease_expires_at <= p_at)
        ) AS oldest
    ) w
    WHERE t.parked_at IS NULL
      AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= p_at)
      AND w.oldest IS NOT NULL
      AND (SELECT count(*) FROM deliveries x
           WHERE x.recipient_id = t.participant_id AND x.state = 'in_flight' AND x.lease_expires_at > p_at)
          < p_cap
    ORDER BY w.oldest
    LIMIT p_limit
$$;

-- What a claim returns per delivery: what a worker needs to deliver it (hub/store/deliveries.ClaimedDelivery).
CREATE TYPE hub_claimed_delivery AS (
    seq bigint, message_id uuid, recipient_id text, adapter text, attempts integer,
    first_attempt_at timestamptz, lease_token uuid, case_id uuid, sender_id text, message_type text,
    version text, accepted_at timestamptz, payload_sha256 text, signed_form bytea, receipt text,
    endpoint text, adapter_config jsonb, form_encrypted boolean, clocks jsonb, wrapped_key bytea
);

-- One destination's claim: its row locked first (claims for a destination run one at a time, so the
-- in-flight cap holds across processes; a process that finds it locked claims nothing there), then, on a
-- fresh snapshot, claimable deliveries leased up to its free slots (`cap`) and the worker's `free`
-- capacity, with what a worker needs to deliver them. An expired lease is claimable again: recovery.
CREATE FUNCTION hub_claim_for(
    p_destination text, p_at timestamptz, p_token uuid, p_worker text, p_lease interval, p_cap integer,
    p_free integer
) RETURNS SETOF hub_claimed_delivery LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM destinations t
    WHERE t.participant_id = p_destination AND t.parked_at IS NULL
      AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= p_at)
    FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH busy AS (
        SELECT count(*) AS n FROM deliveries x
        WHERE x.recipient_id = p_destination AND x.state = 'in_flight' AND x.lease_expires_at > p_at
    ), slots AS (
        SELECT greatest(0, least(p_free, p_cap - (SELECT n FROM busy)::integer)) AS n
    ), due AS (
        -- The row comparisons (rather than recipient_id = ...) keep the planner on
        -- deliveries_push_pending_idx: with the recipient fixed it would walk the primary key in seq order
        -- instead, through every delivery already made, a cost that grows with the hub's history.
        SELECT x.seq FROM deliveries x
        WHERE (x.recipient_id, x.seq) > (p_destination, 0)
          AND (x.recipient_id, x.seq) <= (p_destination, 9223372036854775807)
          AND x.channel = 'push' AND x.state = 'pending' AND x.due_at <= p_at
        ORDER BY x.recipient_id, x.seq
        LIMIT (SELECT n FROM slots)
        FOR UPDATE SKIP LOCKED
    ), expired AS (
        SELECT x.seq FROM deliveries x
        WHERE x.recipient_id = p_destination AND x.channel = 'push' AND x.state = 'in_flight'
          AND x.lease_expires_at <= p_at
        ORDER BY x.seq
        LIMIT (SELECT n FROM slots)
        FOR UPDATE SKIP LOCKED
    ), picked AS (
        SELECT c.seq FROM (SELECT seq FROM due UNION ALL SELECT seq FROM expired) c
        ORDER BY c.seq
        LIMIT (SELECT n FROM slots)
    ), claimed AS (
        UPDATE deliveries d
        SET state = 'in_flight', lease_token = p_token, leased_by = p_worker, lease_expires_at = p_at + p_lease,
            attempts = d.attempts + 1, first_attempt_at = coalesce(d.first_attempt_at, p_at),
            last_attempt_at = p_at
        FROM messages m, participants p
        WHERE d.seq IN (SELECT picked.seq FROM picked) AND m.id = d.message_id AND p.id = d.recipient_id
        RETURNING d.seq, d.message_id, d.recipient_id, d.adapter, d.attempts, d.first_attempt_at,
                  d.lease_token, m.case_id, m.sender_id, m.message_type, m.version, m.accepted_at,
                  m.payload_sha256, m.signed_form, m.receipt, p.endpoint, p.adapter_config, m.form_encrypted,
                  d.clocks, (SELECT k.wrapped_key FROM case_keys k WHERE k.case_id = m.case_id) AS wrapped_key
    )
    SELECT * FROM claimed ORDER BY claimed.seq;
END
$$;

-- Push deliveries waiting on a parked destination (`p_destination`: that one; NULL: every parked one)
-- not yet shown as held on their case's timeline: marked with the destination's parked_at, each with a
-- `delivery.parked` event by `p_actor` (the hub), as hub/store/events.record_event would write it (a
-- test compares the two). A delivery queued while its destination is parked is found by a later call.
CREATE FUNCTION hub_hold_parked(p_at timestamptz, p_destination text, p_actor text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    held jsonb;
BEGIN
    WITH marked AS (
        UPDATE deliveries d SET held_since = t.parked_at
        FROM destinations t, messages m
        WHERE t.parked_at IS NOT NULL AND (p_destination IS NULL OR t.participant_id = p_destination)
          AND d.recipient_id = t.participant_id AND d.channel = 'push' AND d.state IN ('pending', 'in_flight')
          AND d.held_since IS NULL AND m.id = d.message_id
        RETURNING d.seq, d.message_id, d.recipient_id, m.case_id,
                  jsonb_build_object('reason', t.parked_reason, 'refusals', t.consecutive_refusals) AS detail
    )
    SELECT jsonb_agg(jsonb_build_array(case_id, p_at, 'delivery.parked', p_actor, recipient_id, message_id,
                                       NULL, NULL, detail, detail) ORDER BY seq)
    INTO held FROM marked;
    IF held IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM hub_record_rows(jsonb_build_object('insert_event', held));
    RETURN jsonb_array_length(held);
END
$$;

-- A delivery round's database work in one statement: deliveries held by parked destinations shown on
-- their timelines, then each due destination's claim (`hub_claim_for`) until the worker's `p_capacity`
-- is used, the longest-waiting destination first. Each destination stays locked until the statement ends.
CREATE FUNCTION hub_claim_due_deliveries(
    p_at timestamptz, p_token uuid, p_worker text, p_lease interval, p_cap integer, p_capacity integer,
    p_limit integer, p_actor text
) RETURNS SETOF hub_claimed_delivery LANGUAGE plpgsql AS $$
DECLARE
    destination text;
    left_over integer := p_capacity;
    taken integer;
BEGIN
    PERFORM hub_hold_parked(p_at, NULL, p_actor);
    FOR destination IN SELECT recipient_id FROM hub_due_destinations(p_at, p_limit, p_cap) LOOP
        EXIT WHEN left_over <= 0;
        RETURN QUERY
            SELECT * FROM hub_claim_for(destination, p_at, p_token, p_worker, p_lease, p_cap, left_over);
        GET DIAGNOSTICS taken = ROW_COUNT;
        left_over := left_over - taken;
    END LOOP;
END
$$;

-- Successful pushes recorded, in order, each as finish_delivered did: the delivery done (only while the
-- worker's lease holds), its attempt kept, its destination's failure count reset, the recipient's party
-- row locked and, for a referral, moved to `to_state` (retrieved) when its state allows it (`moves_from`:
-- the states hub.core.case_state allows that move from). Then the rows the push writes once done, made in Python
-- (hub/store/deliveries.py) for every outcome this statement can find: `told` always (its timeline
-- entries), `moved` -> the recipient's state before (its state change), and the held clocks started:
-- `clocks_when` -> that state where it starts other clocks (withdrawn before it was told: only the one for
-- confirming deletion), else `clocks`. Returns each push's seq and
-- whether it was recorded (false: the lease was lost, nothing written for it).
CREATE FUNCTION hub_finish_pushes(pushes jsonb) RETURNS TABLE (seq bigint, recorded boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    push jsonb;
    f jsonb;
    done_seq bigint;
    party_state text;
    moved_to text;
BEGIN
    FOR push IN SELECT value FROM jsonb_array_elements(pushes) WITH ORDINALITY AS e(value, n) ORDER BY n LOOP
        f := push->'finish';
        WITH done AS (
            UPDATE deliveries d
            SET state = 'delivered', delivered_at = (f->>'at')::timestamptz, evidence = f->>'evidence',
                last_status = (f->>'http_status')::integer, last_error = NULL, lease_token = NULL,
                lease_expires_at = NULL, due_at = NULL
            WHERE d.seq = (f->>'seq')::bigint AND d.lease_token = (f->>'lease_token')::uuid
            RETURNING d.seq, d.recipient_id
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
            WHERE t.participant_id = (SELECT done.recipient_id FROM done)
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
        PERFORM hub_record_rows(push->'told');
        IF moved_to IS NOT NULL THEN
            PERFORM hub_record_rows(push->'moved'->party_state);
        END IF;
        PERFORM hub_record_rows(coalesce(push->'clocks_when'->party_state, push->'clocks'));
        seq := done_seq;
        recorded := true;
        RETURN NEXT;
    END LOOP;
END
$$;
