-- name: case_parties
SELECT cp.participant_id, cp.role, cp.state, cp.state_changed_at, cp.added_by, cp.added_at,
       cp.deletion_requested_at, cp.deletion_confirmed_at, cp.sees_parts, p.kind
FROM case_parties cp JOIN participants p ON p.id = cp.participant_id
WHERE cp.case_id = $1 ORDER BY cp.added_at, cp.participant_id;

-- name: case_events
SELECT seq, occurred_at, event, actor, subject, message_id, from_state, to_state, detail
FROM case_events WHERE case_id = $1 ORDER BY seq;

-- name: party_role
SELECT role FROM case_parties WHERE case_id = $1 AND participant_id = $2;

-- name: insert_share
-- A participant ($2) shared the case ($1) by $3 at $4, seeing $5 (NULL: the whole case; else the
-- recipients whose parts), as hub/core/case_view.py share_part decided. NULL if it already is a party.
INSERT INTO case_parties (case_id, participant_id, role, added_by, added_at, case_opened_at, sees_parts)
VALUES ($1, $2, 'shared', $3, $4, (SELECT opened_at FROM cases WHERE id = $1), $5)
ON CONFLICT (case_id, participant_id) DO NOTHING
RETURNING participant_id;

-- name: set_party_sight
-- What a participant the case was shared with sees from now on ($3), after another share.
UPDATE case_parties SET sees_parts = $3 WHERE case_id = $1 AND participant_id = $2 AND role = 'shared';

-- name: case_page_candidates_of_participant
-- The next cases a participant ($1) is party to, newest first after the keyset ($2, $3), $4 at most:
-- read in order from case_parties_listing_idx and stopping there, whatever the number of cases.
SELECT case_id AS id, case_opened_at AS opened_at FROM case_parties
WHERE participant_id = $1 AND (case_opened_at, case_id) < ($2::timestamptz, $3::uuid)
ORDER BY case_opened_at DESC, case_id DESC
LIMIT $4;

-- name: case_page_candidates_all
-- The next cases of the whole hub (the operator's list), in the same order, from cases_listing_idx.
SELECT id, opened_at FROM cases
WHERE $1::text IS NULL AND (opened_at, id) < ($2::timestamptz, $3::uuid)
ORDER BY opened_at DESC, id DESC
LIMIT $4;

-- name: case_due_candidates_of_participant
-- The next cases of participant $1 with a clock running that it sees, soonest due first after the
-- keyset ($2 due time, $3 case id), $4 at most. A case's place is its earliest running clock among those
-- the viewer sees: list_cases' `next_due`, by the same `sees_parts` condition. Reads the viewer's running
-- clocks (its open cases), not all its cases.
SELECT d.case_id AS id, min(d.due_at) AS due_at
FROM case_parties me JOIN deadlines d ON d.case_id = me.case_id
WHERE me.participant_id = $1 AND d.state = 'open'
  AND (me.sees_parts IS NULL OR d.recipient_id = ANY (me.sees_parts))
GROUP BY d.case_id
HAVING (min(d.due_at), d.case_id) > ($2::timestamptz, $3::uuid)
ORDER BY 2, 1
LIMIT $4;

-- name: case_due_candidates_all
-- The same over the whole hub (the operator's list): every running clock counts.
SELECT d.case_id AS id, min(d.due_at) AS due_at FROM deadlines d
WHERE $1::text IS NULL AND d.state = 'open'
GROUP BY d.case_id
HAVING (min(d.due_at), d.case_id) > ($2::timestamptz, $3::uuid)
ORDER BY 2, 1
LIMIT $4;

-- name: list_cases
-- The listed cases among the candidates $2 as the viewer $1 (NULL: the operator) sees them, newest
-- first, with the derived status and whether a deadline is overdue at $3; filters: status $4, overdue
-- $5, a recipient's country $6, a recipient $7; and the next clock due (kind, due time) it sees. What the viewer sees is what hub/core/case_view.py
-- recorded on its party row (`sees_parts`: NULL the whole case, else the recipients whose parts): the
-- other recipients of a fan-out neither show, nor count in its status, nor match its filters.
-- The status is hub/core/case_state.py `case_status` and overdue hub/core/overdue.py `is_overdue`,
-- computed here over many cases; tests/test_case_rules_differential.py feeds both the same cases.
SELECT * FROM (
    SELECT c.id, c.case_type, c.opened_by, c.opened_at, c.closed_at, me.role AS your_role,
           r.recipients, r.countries,
           CASE WHEN c.closed_at IS NOT NULL THEN 'closed'
                WHEN r.n = 0 OR r.pending THEN 'open'
                WHEN r.all_withdrawn THEN 'withdrawn'
                WHEN r.actioned AND NOT r.declined THEN 'actioned'
                WHEN r.declined AND NOT r.actioned THEN 'declined'
                ELSE 'partially-actioned' END AS status,
           EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = c.id
                   AND (me.sees_parts IS NULL OR d.recipient_id = ANY (me.sees_parts))
                   AND ((d.state = 'breached' AND d.answered_late_at IS NULL)
                        OR (d.state = 'open' AND d.due_at <= $3))) AS overdue,
           nd.kind AS next_due_kind, nd.due_at AS next_due_at
    FROM cases c
    LEFT JOIN case_parties me ON me.case_id = c.id AND me.participant_id = $1
    LEFT JOIN LATERAL (
        -- the earliest clock still running among those the viewer sees (as `overdue` above)
        SELECT d.kind, d.due_at FROM deadlines d
        WHERE d.case_id = c.id AND d.state = 'open'
          AND (me.sees_parts IS NULL OR d.recipient_id = ANY (me.sees_parts))
        ORDER BY d.due_at, d.kind LIMIT 1
    ) nd ON true
    CROSS JOIN LATERAL (
        SELECT count(*) AS n,
               coalesce(bool_or(cp.state IN ('queued', 'retrieved', 'acknowledged')), false) AS pending,
               coalesce(bool_or(cp.state = 'actioned'), false) AS actioned,
               coalesce(bool_or(cp.state = 'declined'), false) AS declined,
               coalesce(bool_and(cp.state = 'withdrawn'), false) AS all_withdrawn,
               coalesce(array_agg(cp.participant_id ORDER BY cp.participant_id), '{}') AS recipients,
               coalesce(array_agg(DISTINCT p.country), '{}') AS countries
        FROM case_parties cp JOIN participants p ON p.id = cp.participant_id
        WHERE cp.case_id = c.id AND cp.role = 'recipient'
          AND (me.sees_parts IS NULL OR cp.participant_id = ANY (me.sees_parts))
    ) r
    WHERE c.id = ANY($2::uuid[]) AND ($1::text IS NULL OR me.role IS NOT NULL)
) listed
WHERE ($4::text IS NULL OR listed.status = $4)
  AND ($5::boolean IS NULL OR listed.overdue = $5)
  AND ($6::text IS NULL OR $6 = ANY(listed.countries))
  AND ($7::text IS NULL OR $7 = ANY(listed.recipients))
ORDER BY listed.opened_at DESC, listed.id DESC;

-- name: count_cases_due_by
-- How many of the viewer $1's cases (NULL: the operator: all) have a clock still running that is due
-- before $2 (past due ones included), counting only the clocks the viewer sees: the same condition as
-- list_cases' `overdue` and `next_due` (hub/core/case_view.py's `sees_parts`).
SELECT count(DISTINCT d.case_id)
FROM deadlines d
LEFT JOIN case_parties me ON me.case_id = d.case_id AND me.participant_id = $1
WHERE d.state = 'open' AND d.due_at < $2
  AND ($1::text IS NULL OR me.role IS NOT NULL)
  AND (me.sees_parts IS NULL OR d.recipient_id = ANY (me.sees_parts));
