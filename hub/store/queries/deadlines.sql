-- name: insert_deadline
INSERT INTO deadlines (case_id, message_id, recipient_id, kind, jurisdiction, rule_id, legal_basis,
                       notify_regulator, started_at, due_at, reminders, next_fire_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
        least($10::timestamptz, coalesce(($11::timestamptz[])[1], $10::timestamptz)))
ON CONFLICT (message_id, recipient_id, kind) DO NOTHING
RETURNING id;

-- name: meet_deadlines
-- An answer ($5) by $2 meets its open clocks of these kinds ($3) and records itself on those already
-- breached (answered late; they stay breached). $6: the message answered; when it has clocks of these
-- kinds, only those are met or answered (answering one production order leaves another's clock
-- running), else every such clock the participant owes. Returns each clock changed and how (`met`
-- first, then `answered-late`), each queued for a peer hub's report as queue_clock_report would. The
-- rule is hub_meet_deadlines (migration 0038), which hub_record_rows calls for a batch's answers.
SELECT outcome, id, kind, rule_id, due_at FROM hub_meet_deadlines($1, $2, $3, $4, $5, $6);

-- name: cancel_deadlines
UPDATE deadlines SET state = 'cancelled', cancelled_at = $3, next_fire_at = NULL
WHERE case_id = $1 AND recipient_id = ANY($2::text[]) AND state = 'open' AND kind <> ALL($4::text[])
RETURNING id, recipient_id, kind;

-- name: claim_due_deadline
-- One due clock, locked: another hub process skips it, so a reminder or breach fires once.
SELECT d.*, m.message_type, m.sender_id, c.opened_by
FROM deadlines d JOIN messages m ON m.id = d.message_id JOIN cases c ON c.id = d.case_id
WHERE d.id = (
    SELECT id FROM deadlines WHERE state = 'open' AND next_fire_at <= $1
    ORDER BY next_fire_at LIMIT 1 FOR UPDATE SKIP LOCKED
);

-- name: set_reminders
UPDATE deadlines SET reminders = $2, next_fire_at = least(due_at, coalesce(($2::timestamptz[])[1], due_at))
WHERE id = $1;

-- name: postpone_deadline
UPDATE deadlines SET next_fire_at = $2 WHERE id = $1 AND state = 'open';

-- name: mark_breached
UPDATE deadlines SET state = 'breached', breached_at = $2, escalation_id = $3, next_fire_at = NULL
WHERE id = $1 AND state = 'open';

-- name: case_deadlines
SELECT id, message_id, recipient_id, kind, jurisdiction, rule_id, legal_basis, started_at, due_at, state,
       met_at, breached_at, escalation_id, answered_late_at, cancelled_at
FROM deadlines WHERE case_id = $1 ORDER BY recipient_id, due_at, id;

-- name: regulators_of
SELECT id FROM participants WHERE kind = 'regulator' AND country = $1 ORDER BY id;

-- name: delivery_evidence
SELECT evidence FROM deliveries WHERE message_id = $1 AND recipient_id = $2 AND destination = '';

-- name: party_state
SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2;

-- name: running_deadlines
-- The open clocks of a recipient on a case, earliest first (what its next notice states).
SELECT kind, jurisdiction, legal_basis, due_at FROM deadlines
WHERE case_id = $1 AND recipient_id = $2 AND state = 'open' ORDER BY due_at, id;

-- name: queue_clock_report
-- The end of clock $1 ($2 result, $3 when, $4 the answer, $5 the escalation) queued for its report, when
-- the clock is this hub's own participant's on a message a peer hub's participant sent:
-- hub_queue_clock_report, migration 0035.
SELECT hub_queue_clock_report($1, $2, $3, $4, $5);

-- name: claim_clock_report
-- One clock end not yet reported, locked (another process skips it), with its clock and who asked.
SELECT q.id AS report_seq, q.result, q.at, q.answered_by, q.escalation, d.case_id, d.message_id,
       d.recipient_id, d.kind, d.jurisdiction, d.rule_id, d.legal_basis, d.started_at, d.due_at,
       m.sender_id
FROM clock_reports q JOIN deadlines d ON d.id = q.deadline_id JOIN messages m ON m.id = d.message_id
WHERE q.id = (
    SELECT id FROM clock_reports WHERE reported_at IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
);

-- name: mark_clock_reported
UPDATE clock_reports SET reported_at = $2, report_id = $3 WHERE id = $1 AND reported_at IS NULL;
