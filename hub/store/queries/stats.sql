-- Transparency statistics and the DSA export. Identifiers of organisations, states, times and counts
-- only: no query here reads a message body except the referral's `category` (parsed by the caller).
--
-- Every statistics query takes the viewer $1 (NULL: every case, for the operator and regulators) and
-- the period [$2, $3). A viewer sees of a case what hub/core/case_view.py recorded on its party row
-- (`sees_parts`), as GET /v1/cases/{id} shows it: NULL the whole case (it opened it, or the originator
-- or the hub shared it); else the parts of those recipients only (a recipient: its own; whom a
-- recipient shared with: that recipient's): their referrals, clocks and escalations, the messages they
-- or the viewer sent or received.

-- name: stats_referral_recipients
-- One row per recipient of a referral accepted in the period: when it was told (its earliest clock, or
-- the referral's acceptance when it has none), and its first move to an acknowledged or decided state.
SELECT m.id AS message_id, m.message_type, m.accepted_at, cp.participant_id AS recipient_id, p.country,
       cp.state, t.told_at, s.acknowledged_at, s.decided_at
FROM messages m
JOIN case_parties cp ON cp.case_id = m.case_id AND cp.role = 'recipient'
                    AND cp.participant_id = ANY (m.recipients)
JOIN participants p ON p.id = cp.participant_id
CROSS JOIN LATERAL (
    SELECT min(d.started_at) AS told_at FROM deadlines d
    WHERE d.message_id = m.id AND d.recipient_id = cp.participant_id
) t
CROSS JOIN LATERAL (
    SELECT min(e.occurred_at) FILTER (WHERE e.to_state IN ('acknowledged', 'actioned', 'declined'))
               AS acknowledged_at,
           min(e.occurred_at) FILTER (WHERE e.to_state IN ('actioned', 'declined')) AS decided_at
    FROM case_events e
    WHERE e.case_id = m.case_id AND e.event = 'recipient.state_changed' AND e.subject = cp.participant_id
) s
WHERE m.message_type IN ('takedown-request', 'assistance-request')
  AND m.accepted_at >= $2 AND m.accepted_at < $3
  AND ($1::text IS NULL
       OR EXISTS (SELECT 1 FROM case_parties me WHERE me.case_id = m.case_id AND me.participant_id = $1
                  AND (me.sees_parts IS NULL OR cp.participant_id = ANY (me.sees_parts))))
ORDER BY m.accepted_at, m.id, cp.participant_id;

-- name: stats_takedown_forms
-- The signed takedown requests of the period the viewer is a party to, for their `category` only.
SELECT m.id, m.category
FROM messages m
WHERE m.message_type = 'takedown-request' AND m.accepted_at >= $2 AND m.accepted_at < $3
  AND ($1::text IS NULL
       OR EXISTS (SELECT 1 FROM case_parties me WHERE me.case_id = m.case_id AND me.participant_id = $1))
ORDER BY m.accepted_at, m.id;

-- name: stats_messages_by_type
SELECT m.message_type, count(*) AS n
FROM messages m
WHERE m.accepted_at >= $2 AND m.accepted_at < $3
  AND ($1::text IS NULL OR m.sender_id = $1 OR $1 = ANY (m.recipients)
       OR EXISTS (SELECT 1 FROM case_parties me WHERE me.case_id = m.case_id AND me.participant_id = $1
                  AND (me.sees_parts IS NULL OR m.sender_id = ANY (me.sees_parts)
                       OR m.recipients && me.sees_parts)))
GROUP BY m.message_type
ORDER BY m.message_type;

-- name: stats_act_deadlines
-- `act` clocks started in the period that are settled: met in time, or breached (answered late or not).
SELECT d.jurisdiction,
       count(*) FILTER (WHERE d.state = 'met') AS met,
       count(*) FILTER (WHERE d.state = 'breached') AS breached
FROM deadlines d
WHERE d.kind = 'act' AND d.state IN ('met', 'breached') AND d.started_at >= $2 AND d.started_at < $3
  AND ($1::text IS NULL
       OR EXISTS (SELECT 1 FROM case_parties me WHERE me.case_id = d.case_id AND me.participant_id = $1
                  AND (me.sees_parts IS NULL OR d.recipient_id = ANY (me.sees_parts))))
GROUP BY d.jurisdiction
ORDER BY d.jurisdiction;

-- name: stats_escalations
-- Breaches and reminders the hub issued in the period, by the clock's jurisdiction.
SELECT coalesce(e.detail ->> 'jurisdiction', 'unknown') AS jurisdiction,
       count(*) FILTER (WHERE e.event = 'deadline.breached') AS breaches,
       count(*) FILTER (WHERE e.event = 'deadline.reminder') AS reminders
FROM case_events e
WHERE e.event IN ('deadline.breached', 'deadline.reminder')
  AND e.occurred_at >= $2 AND e.occurred_at < $3
  AND ($1::text IS NULL
       OR EXISTS (SELECT 1 FROM case_parties me WHERE me.case_id = e.case_id AND me.participant_id = $1
                  AND (me.sees_parts IS NULL OR e.subject = ANY (me.sees_parts))))
GROUP BY 1
ORDER BY 1;

-- name: stats_deliveries
-- Deliveries of the messages accepted in the period, by channel, and how many were dead-lettered.
SELECT d.channel, count(*) AS n, count(*) FILTER (WHERE d.state = 'dead') AS dead
FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE m.accepted_at >= $2 AND m.accepted_at < $3
  AND ($1::text IS NULL OR d.recipient_id = $1 OR m.sender_id = $1
       OR EXISTS (SELECT 1 FROM case_parties me WHERE me.case_id = m.case_id AND me.participant_id = $1
                  AND (me.sees_parts IS NULL OR d.recipient_id = ANY (me.sees_parts)
                       OR m.sender_id = ANY (me.sees_parts))))
GROUP BY d.channel
ORDER BY d.channel;

-- name: dsa_status_updates
-- A platform's ($1) status updates accepted in [$2, $3), each with the takedown request that opened its
-- case, the case's jurisdictions and whether the notifier is a trusted flagger.
SELECT su.id, su.case_id, su.accepted_at, su.signed_form, su.form_encrypted, ref.id AS referral_id,
       ref.accepted_at AS referral_accepted_at, ref.signed_form AS referral_form,
       ref.form_encrypted AS referral_encrypted,
       (SELECT k.wrapped_key FROM case_keys k WHERE k.case_id = su.case_id) AS wrapped_key,
       np.trusted_flagger, c.jurisdictions
FROM messages su
JOIN cases c ON c.id = su.case_id
CROSS JOIN LATERAL (
    SELECT r.id, r.accepted_at, r.signed_form, r.form_encrypted, r.sender_id FROM messages r
    WHERE r.case_id = su.case_id AND r.message_type = 'takedown-request'
    ORDER BY r.accepted_at, r.id LIMIT 1
) ref
JOIN participants np ON np.id = ref.sender_id
WHERE su.message_type = 'status-update' AND su.sender_id = $1
  AND su.accepted_at >= $2 AND su.accepted_at < $3
ORDER BY su.accepted_at, su.id;

-- name: stats_signal_outcomes
-- Matchers' outcomes for hash signals reported in the period (match-reports' `signals.reported` events),
-- signals per outcome, and the located copies (on the row of outcome '').
SELECT o.key AS outcome, sum(o.value::int)::int AS n, 0 AS located
FROM case_events e CROSS JOIN LATERAL jsonb_each_text(e.detail -> 'outcomes') o
WHERE e.event = 'signals.reported' AND e.occurred_at >= $2 AND e.occurred_at < $3
  AND ($1::text IS NULL
       OR EXISTS (SELECT 1 FROM case_parties me WHERE me.case_id = e.case_id AND me.participant_id = $1
                  AND (me.sees_parts IS NULL OR e.subject = ANY (me.sees_parts))))
GROUP BY 1
UNION ALL
SELECT '' AS outcome, 0 AS n, coalesce(sum((e.detail ->> 'located_copies')::int), 0)::int AS located
FROM case_events e
WHERE e.event = 'signals.reported' AND e.occurred_at >= $2 AND e.occurred_at < $3
  AND ($1::text IS NULL
       OR EXISTS (SELECT 1 FROM case_parties me WHERE me.case_id = e.case_id AND me.participant_id = $1
                  AND (me.sees_parts IS NULL OR e.subject = ANY (me.sees_parts))));
