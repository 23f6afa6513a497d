-- name: case_parties
SELECT participant_id, role, state, state_changed_at, added_by, added_at
FROM case_parties WHERE case_id = $1 ORDER BY added_at, participant_id;

-- name: case_events
SELECT seq, occurred_at, event, actor, subject, message_id, from_state, to_state, detail
FROM case_events WHERE case_id = $1 ORDER BY seq;

-- name: party_role
SELECT role FROM case_parties WHERE case_id = $1 AND participant_id = $2;
