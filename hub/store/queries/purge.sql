-- name: purge_candidates
-- Cases not yet purged that may be final: closed, or no recipient still to decide.
SELECT c.id, c.case_type, c.closed_at,
       coalesce(array_agg(cp.state ORDER BY cp.participant_id) FILTER (WHERE cp.role = 'recipient'), '{}') AS states,
       coalesce(array_agg(cp.state_changed_at ORDER BY cp.participant_id) FILTER (WHERE cp.role = 'recipient'), '{}')
           AS changed
FROM cases c JOIN case_parties cp ON cp.case_id = c.id
WHERE c.purged_at IS NULL
  AND (c.closed_at IS NOT NULL OR NOT EXISTS (
        SELECT 1 FROM case_parties p WHERE p.case_id = c.id AND p.role = 'recipient'
          AND p.state IN ('queued', 'retrieved', 'acknowledged')))
GROUP BY c.id
ORDER BY c.opened_at
LIMIT $1;

-- name: lock_case_for_purge
SELECT id FROM cases WHERE id = $1 AND purged_at IS NULL FOR UPDATE SKIP LOCKED;

-- name: purge_messages
UPDATE messages SET signed_form = NULL WHERE case_id = $1 AND signed_form IS NOT NULL RETURNING id;

-- name: shred_case_key
UPDATE case_keys SET wrapped_key = NULL, shredded_at = $2 WHERE case_id = $1 AND wrapped_key IS NOT NULL;

-- name: purge_inbound_mail
UPDATE inbound_mail SET raw = NULL, wrapped_key = NULL WHERE case_id = $1 AND raw IS NOT NULL RETURNING id;

-- name: purge_pending_deliveries
UPDATE deliveries d SET state = 'purged', lease_token = NULL, lease_expires_at = NULL, due_at = NULL
FROM messages m
WHERE m.id = d.message_id AND m.case_id = $1 AND d.state IN ('pending', 'in_flight')
RETURNING d.seq;

-- name: mark_case_purged
UPDATE cases SET purged_at = $2 WHERE id = $1;

-- name: insert_purge
INSERT INTO purges (case_id, purged_at, final_at, retention, detail) VALUES ($1, $2, $3, $4, $5);

-- name: delete_unmatched_mail
-- Mail to no known reply address whose retention is over (issue 14.6): the whole row goes.
DELETE FROM inbound_mail WHERE case_id IS NULL AND received_at < $1 RETURNING id;

-- name: purge_coop_callbacks
UPDATE coop_callbacks SET raw = NULL WHERE case_id = $1 AND raw IS NOT NULL RETURNING id;

-- name: purge_bank_contents
-- What the case banked in platforms' HMA is due for removal (the bank sweep removes it).
UPDATE bank_contents SET remove_due_at = $2
WHERE case_id = $1 AND removed_at IS NULL AND remove_due_at IS NULL
RETURNING content_id;
