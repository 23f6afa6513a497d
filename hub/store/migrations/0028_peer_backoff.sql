-- Issue 20 (docs/federation.md, section 4, "Retries and backoff"): a peer hub that is down is down for
-- all its participants. The failures of forwardings to participants of a peer hub (home_hub set) count
-- against the peer's own `destinations` row, not the recipient's: once the peer is known down, every
-- message to any of its participants waits for the peer's next retry (the hub.core.retry backoff, as
-- for any destination), and while it is known down (failures since its last success) one forwarding to
-- it is in flight at a time, across processes: the probe. Its first success resets the peer and the
-- queue drains. Refusals (401/403) and parking stay per recipient.

-- The destination whose failures a delivery to `p_recipient` counts against: its home hub for a
-- participant of a peer hub, itself otherwise. The one place of this rule (queries in delivery.sql call it).
CREATE FUNCTION hub_destination_of(p_recipient text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT p.home_hub FROM participants p WHERE p.id = p_recipient), p_recipient)
$$;

-- Forwardings in flight (lease unexpired) to any participant of peer hub `p_peer`.
CREATE FUNCTION hub_peer_in_flight(p_peer text, p_at timestamptz) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM deliveries x JOIN participants q ON q.id = x.recipient_id
    WHERE q.home_hub = p_peer AND x.state = 'in_flight' AND x.lease_expires_at > p_at
$$;

-- Whether the peer hub of `p_recipient` holds its deliveries back at `p_at`: backing off, parked, or known
-- down with its probe in flight. False for a recipient of no peer hub (or a peer that never failed).
CREATE FUNCTION hub_peer_holds(p_recipient text, p_at timestamptz) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM participants p JOIN destinations h ON h.participant_id = p.home_hub
        WHERE p.id = p_recipient
          AND (h.parked_at IS NOT NULL OR h.next_attempt_at > p_at
               OR (h.consecutive_failures > 0 AND hub_peer_in_flight(h.participant_id, p_at) > 0))
    )
$$;


-- As in 0023, and not while the destination's peer hub holds its deliveries back (hub_peer_holds).
CREATE OR REPLACE FUNCTION hub_due_destinations(p_at timestamptz, p_limit integer, p_cap integer)
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
      AND NOT hub_peer_holds(t.participant_id, p_at)
      AND (SELECT count(*) FROM deliveries x
           WHERE x.recipient_id = t.participant_id AND x.state = 'in_flight' AND x.lease_expires_at > p_at)
          < p_cap
    ORDER BY w.oldest
    LIMIT p_limit
$$;


-- As in 0024, and held back by the recipient's peer hub: its backoff, its lock, its probe.
CREATE OR REPLACE FUNCTION hub_claim_for(
    p_destination text, p_at timestamptz, p_token uuid, p_worker text, p_lease interval, p_cap integer,
    p_free integer
) RETURNS SETOF hub_claimed_delivery LANGUAGE plpgsql AS $$
DECLARE
    peer text := (SELECT p.home_hub FROM participants p WHERE p.id = p_destination);
    free integer := p_free;
    failures integer;
BEGIN
    PERFORM 1 FROM destinations t
    WHERE t.participant_id = p_destination AND t.parked_at IS NULL
      AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= p_at)
    FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF peer IS NOT NULL AND EXISTS (SELECT 1 FROM destinations t WHERE t.participant_id = peer) THEN
        -- The peer's row is locked too, so claims for its participants run one at a time across
        -- processes; while it is known down, one forwarding to it is in flight at a time (the probe).
        SELECT t.consecutive_failures INTO failures FROM destinations t
        WHERE t.participant_id = peer AND t.parked_at IS NULL
          AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= p_at)
        FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        IF failures > 0 THEN
            free := least(free, greatest(0, 1 - hub_peer_in_flight(peer, p_at)));
        END IF;
    END IF;
    RETURN QUERY
    WITH busy AS (
        SELECT count(*) AS n FROM deliveries x
        WHERE x.recipient_id = p_destination AND x.state = 'in_flight' AND x.lease_expires_at > p_at
    ), slots AS (
        SELECT greatest(0, least(free, p_cap - (SELECT n FROM busy)::integer)) AS n
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
                  m.payload_sha256, m.signed_form, m.receipt,
                  coalesce(p.endpoint, (SELECT h.endpoint FROM participants h WHERE h.id = p.home_hub)),
                  p.adapter_config, m.form_encrypted,
                  d.clocks, (SELECT k.wrapped_key FROM case_keys k WHERE k.case_id = m.case_id) AS wrapped_key
    )
    SELECT * FROM claimed ORDER BY claimed.seq;
END
$$;

-- As in 0023, and a success resets the peer hub of a participant of a peer hub too (hub_destination_of).
CREATE OR REPLACE FUNCTION hub_finish_pushes(pushes jsonb) RETURNS TABLE (seq bigint, recorded boolean)
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
            WHERE t.participant_id IN (SELECT done.recipient_id FROM done
                                       UNION SELECT hub_destination_of(done.recipient_id) FROM done)
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

-- As in 0027, and a failure that is no refusal counts against, and backs off, the destination
-- hub_destination_of names (the peer hub of a participant of a peer hub; its row made at its first failure).
CREATE OR REPLACE FUNCTION hub_finish_failures(failures jsonb)
RETURNS TABLE (seq bigint, recorded boolean, failures_now integer, refusals_now integer, parked boolean,
               wait interval)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    item jsonb;
    f jsonb;
    d_seq bigint;
    d_at timestamptz;
    d_dest text;
    c_dest text;  -- the destination whose failures this one counts against
    n_failures integer;
    n_refusals integer;
    do_park boolean;
    d_wait interval;
BEGIN
    FOR item IN SELECT value FROM jsonb_array_elements(failures) WITH ORDINALITY AS e(value, n) ORDER BY n LOOP
        f := item->'finish';
        d_seq := (f->>'seq')::bigint;
        d_at := (f->>'at')::timestamptz;
        d_dest := f->>'recipient_id';
        c_dest := CASE WHEN f->>'kind' = 'refused' THEN d_dest ELSE hub_destination_of(d_dest) END;
        n_failures := NULL;
        n_refusals := NULL;
        do_park := false;
        d_wait := NULL;
        -- The lease first: a worker whose lease was taken over records and counts nothing.
        PERFORM 1 FROM deliveries d WHERE d.seq = d_seq AND d.lease_token = (f->>'lease_token')::uuid
        FOR UPDATE;
        IF NOT FOUND THEN
            seq := d_seq;
            recorded := false;
            failures_now := NULL;
            refusals_now := NULL;
            parked := false;
            wait := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF f->>'kind' = 'dead' THEN
            UPDATE deliveries d
            SET state = 'dead', dead_at = d_at, dead_reason = f->>'reason',
                last_status = (f->>'http_status')::integer, last_error = f->>'reason', lease_token = NULL,
                lease_expires_at = NULL, due_at = NULL
            WHERE d.seq = d_seq;
        ELSE
            IF f->>'kind' = 'refused' THEN
                -- A refusal (401/403) is a failure too (it backs off like one), counted since the last success.
                UPDATE destinations t
                SET consecutive_failures = t.consecutive_failures + 1,
                    consecutive_refusals = t.consecutive_refusals + 1, last_failure_at = d_at
                WHERE t.participant_id = d_dest
                RETURNING t.consecutive_failures, t.consecutive_refusals INTO n_failures, n_refusals;
                n_refusals := coalesce(n_refusals, 1);
                do_park := (item->'parks'->>(least(n_refusals, jsonb_array_length(item->'parks')) - 1))::boolean;
            ELSE
                INSERT INTO destinations AS t (participant_id, consecutive_failures, last_failure_at)
                VALUES (c_dest, 1, d_at)
                ON CONFLICT (participant_id) DO UPDATE
                SET consecutive_failures = t.consecutive_failures + 1, last_failure_at = d_at
                RETURNING t.consecutive_failures INTO n_failures;
            END IF;
            n_failures := coalesce(n_failures, 1);
            IF NOT do_park THEN
                d_wait := make_interval(secs => (item->'waits'->>(
                    least(n_failures, jsonb_array_length(item->'waits')) - 1))::double precision);
            END IF;
            UPDATE deliveries d
            SET state = 'pending', due_at = d_at + coalesce(d_wait, interval '0'),
                last_status = (f->>'http_status')::integer, last_error = f->>'detail', lease_token = NULL,
                lease_expires_at = NULL
            WHERE d.seq = d_seq;
        END IF;
        INSERT INTO delivery_attempts (delivery_seq, attempt, worker, started_at, finished_at, verdict,
                                       http_status, detail)
        VALUES (d_seq, (f->>'attempt')::integer, f->>'worker', (f->>'started_at')::timestamptz, d_at,
                f->>'verdict', (f->>'http_status')::integer, f->>'detail');
        IF f->>'kind' = 'dead' AND (f->>'counts')::boolean THEN
            INSERT INTO destinations AS t (participant_id, consecutive_failures, last_failure_at)
            VALUES (c_dest, 1, d_at)
            ON CONFLICT (participant_id) DO UPDATE
            SET consecutive_failures = t.consecutive_failures + 1, last_failure_at = d_at
            RETURNING t.consecutive_failures INTO n_failures;
            IF jsonb_array_length(coalesce(item->'waits', '[]')) > 0 THEN
                d_wait := make_interval(secs => (item->'waits'->>(
                    least(coalesce(n_failures, 1), jsonb_array_length(item->'waits')) - 1))::double precision);
            END IF;
        END IF;
        IF do_park THEN
            UPDATE destinations t SET parked_at = d_at, parked_reason = f->>'detail', last_failure_at = d_at
            WHERE t.participant_id = d_dest AND t.parked_at IS NULL;
            PERFORM hub_hold_parked(d_at, d_dest, f->>'actor');
        ELSIF d_wait IS NOT NULL THEN
            -- The later of the current wait and this one: concurrent failures never shorten a wait.
            UPDATE destinations t
            SET next_attempt_at = greatest(coalesce(t.next_attempt_at, d_at), d_at + d_wait)
            WHERE t.participant_id = c_dest;
        END IF;
        IF f->>'kind' = 'dead' THEN
            PERFORM hub_record_rows(item->'dead');
        END IF;
        seq := d_seq;
        recorded := true;
        failures_now := n_failures;
        refusals_now := n_refusals;
        parked := do_park;
        wait := d_wait;
        RETURN NEXT;
    END LOOP;
END
$$;
