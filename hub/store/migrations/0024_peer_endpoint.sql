-- Issue 20 (docs/federation.md): a participant of a peer hub (home_hub set, no endpoint of its own) is
-- reached at its home hub's endpoint by adapter `hub`. Migration 0023 moved the claim into hub_claim_for
-- from the named query that read it; this puts that rule back into the one claim.
CREATE OR REPLACE FUNCTION hub_claim_for(
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
                  m.payload_sha256, m.signed_form, m.receipt,
                  coalesce(p.endpoint, (SELECT h.endpoint FROM participants h WHERE h.id = p.home_hub)),
                  p.adapter_config, m.form_encrypted,
                  d.clocks, (SELECT k.wrapped_key FROM case_keys k WHERE k.case_id = m.case_id) AS wrapped_key
    )
    SELECT * FROM claimed ORDER BY claimed.seq;
END
$$;
