-- A delivery round's hold of parked destinations' deliveries, found from the parked destinations (issue 21).
--
-- As in migration 0032, but the deliveries are reached through each parked destination's own index entries
-- (deliveries_push_pending_idx, deliveries_in_flight_idx) instead of by a scan of every pending or
-- in-flight push: that scan ran in every round of every worker, so a round's cost grew with the backlog
-- (132 ms at 12,000 pending, on PostgreSQL 15, with nothing parked) and the drain slowed as the queue grew.
-- A round with no parked destination now reads only the destinations table.
CREATE OR REPLACE FUNCTION hub_hold_parked(p_at timestamptz, p_destination text, p_name text, p_actor text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    held jsonb;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM destinations t
        WHERE t.parked_at IS NOT NULL
          AND (p_destination IS NULL OR (t.participant_id = p_destination AND t.name = p_name))
    ) THEN
        RETURN 0;
    END IF;
    WITH parked AS (
        SELECT t.participant_id, t.name, t.parked_at, t.parked_reason, t.consecutive_refusals
        FROM destinations t
        WHERE t.parked_at IS NOT NULL
          AND (p_destination IS NULL OR (t.participant_id = p_destination AND t.name = p_name))
    ), holding AS (
        -- each parked destination holds its own deliveries; a parked peer hub's row (name '') those to
        -- each of its participants' own destinations
        SELECT k.*, k.participant_id AS recipient_id, k.name AS destination FROM parked k
        UNION ALL
        SELECT k.*, q.id, '' FROM parked k JOIN participants q ON q.home_hub = k.participant_id
        WHERE k.name = ''
    ), waiting AS (
        SELECT x.seq, h.parked_at, h.name, h.parked_reason, h.consecutive_refusals
        FROM holding h
        CROSS JOIN LATERAL (
            SELECT d.seq FROM deliveries d
            WHERE d.recipient_id = h.recipient_id AND d.destination = h.destination
              AND d.channel = 'push' AND d.state = 'pending' AND d.held_since IS NULL
            UNION ALL
            SELECT d.seq FROM deliveries d
            WHERE d.recipient_id = h.recipient_id AND d.destination = h.destination
              AND d.channel = 'push' AND d.state = 'in_flight' AND d.held_since IS NULL
        ) x
    ), marked AS (
        UPDATE deliveries d SET held_since = w.parked_at
        FROM waiting w, messages m
        WHERE d.seq = w.seq AND m.id = d.message_id
        RETURNING d.seq, d.message_id, d.recipient_id, m.case_id,
                  CASE WHEN w.name = ''
                       THEN jsonb_build_object('reason', w.parked_reason, 'refusals', w.consecutive_refusals)
                       ELSE jsonb_build_object('reason', w.parked_reason, 'refusals', w.consecutive_refusals,
                                               'destination', w.name) END AS detail
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
