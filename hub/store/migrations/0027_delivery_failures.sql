-- Issue 21: a batch of failed pushes (retried later, refused, dead-lettered) recorded in one statement,
-- as hub_finish_pushes (migration 0023) records a batch of successful ones. What the failure path sent
-- one statement at a time (count_destination_failure or _refusal, finish_retry or finish_dead,
-- insert_attempt, back_off_destination or park_destination and hub_hold_parked, and a dead letter's
-- timeline entry) happens here, in the same order of effects, once per failure.
--
-- The wait before the next try is the pure retry policy's (hub.core.retry.RetryPolicy), which needs the
-- destination's failure count that only this statement learns. So the policy is asked beforehand for
-- every count it distinguishes: `waits` holds its wait after the 1st, 2nd, ... consecutive failure, the
-- last one holding for any higher count (`RetryPolicy.waits`), and `parks` whether the 1st, 2nd, ...
-- refusal parks the destination, likewise (`RetryPolicy.parking`). The statement picks the entry for
-- the count it finds: no rule of the policy is written here.
--
-- Per failure (`f->'finish'`): seq, lease_token, at, http_status, detail, attempt, worker, started_at,
-- verdict (the attempt's), recipient_id, kind ('retry', 'refused' or 'dead'), reason (a dead letter's),
-- counts (whether a dead letter's last try counts against the destination: a server error does, a
-- refusal for good does not), actor (the hub's timeline actor, for held deliveries); beside it `waits`
-- (seconds), `parks` and, for a dead letter, `dead`: the rows of its timeline entry (hub_record_rows).
-- Returns, for each, its seq, whether it was recorded (false: the lease was lost; nothing was written or
-- counted for it), the destination's failure and refusal counts, whether it parked, and the wait.
CREATE FUNCTION hub_finish_failures(failures jsonb)
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
                UPDATE destinations t
                SET consecutive_failures = t.consecutive_failures + 1, last_failure_at = d_at
                WHERE t.participant_id = d_dest
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
            UPDATE destinations t
            SET consecutive_failures = t.consecutive_failures + 1, last_failure_at = d_at
            WHERE t.participant_id = d_dest
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
            WHERE t.participant_id = d_dest;
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
