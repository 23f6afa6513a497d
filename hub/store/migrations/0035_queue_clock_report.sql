-- Issue 21: the rule of which clock ends are queued for a peer hub's report (migration 0031's
-- queue_clock_report) as a function, so that the statement meeting an answer's clocks queues their
-- reports itself (meet_deadlines) instead of one more statement per clock; the named query calls it too.
-- Queued: the end of a clock of this hub's own participant (no home hub) on a message a peer hub's
-- participant sent. Returns whether it was queued (a repeat of a clock's result is not).
CREATE FUNCTION hub_queue_clock_report(
    p_deadline bigint, p_result text, p_at timestamptz, p_answered_by uuid, p_escalation uuid
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO clock_reports (deadline_id, result, at, answered_by, escalation)
    SELECT d.id, p_result, p_at, p_answered_by, p_escalation
    FROM deadlines d JOIN messages m ON m.id = d.message_id
         JOIN participants s ON s.id = m.sender_id JOIN participants r ON r.id = d.recipient_id
    WHERE d.id = p_deadline AND s.home_hub IS NOT NULL AND r.home_hub IS NULL
    ON CONFLICT (deadline_id, result) DO NOTHING;
    RETURN FOUND;
END
$$;
