-- Issue 20 (docs/federation.md, section 4, "Retries and backoff"): a peer hub that refuses this hub
-- (401/403: its key or token check fails, whoever the recipient) is refused for all its participants, so
-- refusals too count against the peer's own row (hub_destination_of), not the recipient's, and the peer is
-- parked at the policy's limit: every delivery to any of its participants is then held (a
-- `delivery.parked` event on each case), and `hub deliveries unpark PEER` resumes them all
-- (release_held_deliveries). Failures that are no refusal count against the peer already (0028, 0030).

-- As in migration 0030, a refusal counted against, and parking, the destination hub_destination_of names.
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
    d_name text;  -- the destination's name: '' the recipient's own, else a further one's
    c_dest text;  -- the destination whose failures this one counts against
    c_name text;
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
        d_name := coalesce(f->>'destination', '');
        c_dest := CASE WHEN d_name <> '' THEN d_dest ELSE hub_destination_of(d_dest) END;
        c_name := CASE WHEN c_dest = d_dest THEN d_name ELSE '' END;
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
                INSERT INTO destinations AS t (participant_id, name, consecutive_failures, consecutive_refusals,
                                               last_failure_at)
                VALUES (c_dest, c_name, 1, 1, d_at)
                ON CONFLICT (participant_id, name) DO UPDATE
                SET consecutive_failures = t.consecutive_failures + 1,
                    consecutive_refusals = t.consecutive_refusals + 1, last_failure_at = d_at
                RETURNING t.consecutive_failures, t.consecutive_refusals INTO n_failures, n_refusals;
                n_refusals := coalesce(n_refusals, 1);
                do_park := (item->'parks'->>(least(n_refusals, jsonb_array_length(item->'parks')) - 1))::boolean;
            ELSE
                INSERT INTO destinations AS t (participant_id, name, consecutive_failures, last_failure_at)
                VALUES (c_dest, c_name, 1, d_at)
                ON CONFLICT (participant_id, name) DO UPDATE
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
            INSERT INTO destinations AS t (participant_id, name, consecutive_failures, last_failure_at)
            VALUES (c_dest, c_name, 1, d_at)
            ON CONFLICT (participant_id, name) DO UPDATE
            SET consecutive_failures = t.consecutive_failures + 1, last_failure_at = d_at
            RETURNING t.consecutive_failures INTO n_failures;
            IF jsonb_array_length(coalesce(item->'waits', '[]')) > 0 THEN
                d_wait := make_interval(secs => (item->'waits'->>(
                    least(coalesce(n_failures, 1), jsonb_array_length(item->'waits')) - 1))::double precision);
            END IF;
        END IF;
        IF do_park THEN
            UPDATE destinations t SET parked_at = d_at, parked_reason = f->>'detail', last_failure_at = d_at
            WHERE t.participant_id = c_dest AND t.name = c_name AND t.parked_at IS NULL;
            PERFORM hub_hold_parked(d_at, c_dest, c_name, f->>'actor');
        ELSIF d_wait IS NOT NULL THEN
            -- The later of the current wait and this one: concurrent failures never shorten a wait.
            UPDATE destinations t
            SET next_attempt_at = greatest(coalesce(t.next_attempt_at, d_at), d_at + d_wait)
            WHERE t.participant_id = c_dest AND t.name = c_name;
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

-- As in migration 0030, and a parked peer hub's row (name '') holds the deliveries to each of its
-- participants' own destinations.
CREATE OR REPLACE FUNCTION hub_hold_parked(p_at timestamptz, p_destination text, p_name text, p_actor text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    held jsonb;
BEGIN
    WITH marked AS (
        UPDATE deliveries d SET held_since = t.parked_at
        FROM destinations t, messages m
        WHERE t.parked_at IS NOT NULL
          AND (p_destination IS NULL OR (t.participant_id = p_destination AND t.name = p_name))
          AND (d.recipient_id = t.participant_id AND d.destination = t.name
               OR t.name = '' AND d.destination = ''
                  AND d.recipient_id IN (SELECT q.id FROM participants q WHERE q.home_hub = t.participant_id))
          AND d.channel = 'push'
          AND d.state IN ('pending', 'in_flight') AND d.held_since IS NULL AND m.id = d.message_id
        RETURNING d.seq, d.message_id, d.recipient_id, m.case_id,
                  CASE WHEN t.name = ''
                       THEN jsonb_build_object('reason', t.parked_reason, 'refusals', t.consecutive_refusals)
                       ELSE jsonb_build_object('reason', t.parked_reason, 'refusals', t.consecutive_refusals,
                                               'destination', t.name) END AS detail
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
