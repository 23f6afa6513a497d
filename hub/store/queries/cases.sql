-- name: case_parties
SELECT participant_id, role, state, state_changed_at, added_by, added_at, deletion_requested_at,
       deletion_confirmed_at
FROM case_parties WHERE case_id = $1 ORDER BY added_at, participant_id;

-- name: case_events
SELECT seq, occurred_at, event, actor, subject, message_id, from_state, to_state, detail
FROM case_events WHERE case_id = $1 ORDER BY seq;

-- name: party_role
SELECT role FROM case_parties WHERE case_id = $1 AND participant_id = $2;

-- name: list_cases_of_participant
-- The cases a participant ($1) is party to, newest first, keyset-paged by (opened_at, id) < ($2, $3),
-- with the derived status and whether a deadline is overdue at $4; filters: status $5, overdue $6, a
-- recipient's country $7, a recipient $8; at most $9 rows. Read in order from the participant's party
-- rows (case_parties_listing_idx), so a page costs the same at any size. A viewer that is a recipient
-- sees the case through its own part only (as in the case view): the other recipients of a fan-out
-- neither show, nor count in its status, nor match its filters.
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
                   AND (me.role <> 'recipient' OR d.recipient_id = $1)
                   AND ((d.state = 'breached' AND d.answered_late_at IS NULL)
                        OR (d.state = 'open' AND d.due_at <= $4))) AS overdue,
           me.case_opened_at AS listed_at, me.case_id AS listed_id
    FROM case_parties me
    JOIN cases c ON c.id = me.case_id
    CROSS JOIN LATERAL (
        SELECT coalesce(bool_or(cp.state IN ('queued', 'retrieved', 'acknowledged')), false) AS pending,
               coalesce(bool_or(cp.state = 'actioned'), false) AS actioned,
               coalesce(bool_or(cp.state = 'declined'), false) AS declined,
               coalesce(bool_and(cp.state = 'withdrawn'), false) AS all_withdrawn,
               coalesce(array_agg(cp.participant_id ORDER BY cp.participant_id), '{}') AS recipients,
               coalesce(array_agg(DISTINCT p.country), '{}') AS countries
        FROM case_parties cp JOIN participants p ON p.id = cp.participant_id
        WHERE cp.case_id = c.id AND cp.role = 'recipient'
          AND (me.role <> 'recipient' OR cp.participant_id = $1)
    ) r
    WHERE me.participant_id = $1
      AND (me.case_opened_at, me.case_id) < ($2::timestamptz, $3::uuid)
    ORDER BY me.case_opened_at DESC, me.case_id DESC
) listed
WHERE ($5::text IS NULL OR listed.status = $5)
  AND ($6::boolean IS NULL OR listed.overdue = $6)
  AND ($7::text IS NULL OR $7 = ANY(listed.countries))
  AND ($8::text IS NULL OR $8 = ANY(listed.recipients))
ORDER BY listed.listed_at DESC, listed.listed_id DESC
LIMIT $9;

-- name: list_all_cases
-- Every case, for the operator: as `list_cases_of_participant` ($1 is unused and NULL), read in order
-- from cases_listing_idx.
SELECT * FROM (
    SELECT c.id, c.case_type, c.opened_by, c.opened_at, c.closed_at, NULL::text AS your_role,
           r.recipients, r.countries,
           CASE WHEN c.closed_at IS NOT NULL THEN 'closed'
                WHEN r.pending THEN 'open'
                WHEN r.all_withdrawn THEN 'withdrawn'
                WHEN r.actioned AND NOT r.declined THEN 'actioned'
                WHEN r.declined AND NOT r.actioned THEN 'declined'
                ELSE 'partially-actioned' END AS status,
           EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = c.id
                   AND ((d.state = 'breached' AND d.answered_late_at IS NULL)
                        OR (d.state = 'open' AND d.due_at <= $4))) AS overdue
    FROM cases c
    CROSS JOIN LATERAL (
        SELECT coalesce(bool_or(cp.state IN ('queued', 'retrieved', 'acknowledged')), false) AS pending,
               coalesce(bool_or(cp.state = 'actioned'), false) AS actioned,
               coalesce(bool_or(cp.state = 'declined'), false) AS declined,
               coalesce(bool_and(cp.state = 'withdrawn'), false) AS all_withdrawn,
               coalesce(array_agg(cp.participant_id ORDER BY cp.participant_id), '{}') AS recipients,
               coalesce(array_agg(DISTINCT p.country), '{}') AS countries
        FROM case_parties cp JOIN participants p ON p.id = cp.participant_id
        WHERE cp.case_id = c.id AND cp.role = 'recipient'
    ) r
    WHERE $1::text IS NULL AND (c.opened_at, c.id) < ($2::timestamptz, $3::uuid)
    ORDER BY c.opened_at DESC, c.id DESC
) listed
WHERE ($5::text IS NULL OR listed.status = $5)
  AND ($6::boolean IS NULL OR listed.overdue = $6)
  AND ($7::text IS NULL OR $7 = ANY(listed.countries))
  AND ($8::text IS NULL OR $8 = ANY(listed.recipients))
ORDER BY listed.opened_at DESC, listed.id DESC
LIMIT $9;
