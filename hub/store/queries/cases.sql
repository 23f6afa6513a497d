-- name: case_parties
SELECT participant_id, role, state, state_changed_at, added_by, added_at, deletion_requested_at,
       deletion_confirmed_at
FROM case_parties WHERE case_id = $1 ORDER BY added_at, participant_id;

-- name: case_events
SELECT seq, occurred_at, event, actor, subject, message_id, from_state, to_state, detail
FROM case_events WHERE case_id = $1 ORDER BY seq;

-- name: party_role
SELECT role FROM case_parties WHERE case_id = $1 AND participant_id = $2;

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

-- name: list_cases
-- The listed cases among the candidates $2 as the viewer $1 (NULL: the operator) sees them, newest
-- first, with the derived status and whether a deadline is overdue at $3; filters: status $4, overdue
-- $5, a recipient's country $6, a recipient $7. A viewer that is a recipient sees the case through its
-- own part only (as in the case view): the other recipients of a fan-out neither show, nor count in its
-- status, nor match its filters.
SELECT * FROM (
    SELECT c.id, c.case_type, c.opened_by, c.opened_at, c.closed_at, me.role AS your_role,
           r.recipients, r.countries,
           CASE WHEN c.closed_at IS NOT NULL THEN 'closed'
                WHEN r.pending THEN 'open'
                WHEN r.all_withdrawn THEN 'withdrawn'
                WHEN r.actioned AND NOT r.declined THEN 'actioned'
                WHEN r.declined AND NOT r.actioned THEN 'declined'
                ELSE 'partially-actioned' END AS status,
           EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = c.id
                   AND (me.role IS DISTINCT FROM 'recipient' OR d.recipient_id = $1)
                   AND ((d.state = 'breached' AND d.answered_late_at IS NULL)
                        OR (d.state = 'open' AND d.due_at <= $3))) AS overdue
    FROM cases c
    LEFT JOIN case_parties me ON me.case_id = c.id AND me.participant_id = $1
    CROSS JOIN LATERAL (
        SELECT coalesce(bool_or(cp.state IN ('queued', 'retrieved', 'acknowledged')), false) AS pending,
               coalesce(bool_or(cp.state = 'actioned'), false) AS actioned,
               coalesce(bool_or(cp.state = 'declined'), false) AS declined,
               coalesce(bool_and(cp.state = 'withdrawn'), false) AS all_withdrawn,
               coalesce(array_agg(cp.participant_id ORDER BY cp.participant_id), '{}') AS recipients,
               coalesce(array_agg(DISTINCT p.country), '{}') AS countries
        FROM case_parties cp JOIN participants p ON p.id = cp.participant_id
        WHERE cp.case_id = c.id AND cp.role = 'recipient'
          AND (me.role IS DISTINCT FROM 'recipient' OR cp.participant_id = $1)
    ) r
    WHERE c.id = ANY($2::uuid[]) AND ($1::text IS NULL OR me.role IS NOT NULL)
) listed
WHERE ($4::text IS NULL OR listed.status = $4)
  AND ($5::boolean IS NULL OR listed.overdue = $5)
  AND ($6::text IS NULL OR $6 = ANY(listed.countries))
  AND ($7::text IS NULL OR $7 = ANY(listed.recipients))
ORDER BY listed.opened_at DESC, listed.id DESC;
