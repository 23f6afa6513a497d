-- name: inbox_page
SELECT d.seq, d.message_id, m.case_id, m.sender_id, m.message_type, m.version, m.accepted_at,
       m.signed_form, m.receipt, m.form_encrypted, k.wrapped_key
FROM deliveries d JOIN messages m ON m.id = d.message_id
LEFT JOIN case_keys k ON k.case_id = m.case_id
-- The row comparisons (rather than recipient_id = $1) keep the planner on deliveries_inbox_idx: with the
-- recipient fixed it may walk the primary key in seq order instead, through every message the recipient
-- has already taken, a cost that grows with its history.
WHERE (d.recipient_id, d.seq) > ($1, $2) AND (d.recipient_id, d.seq) <= ($1, 9223372036854775807)
  AND d.state = 'pending' AND d.channel = 'pull'
ORDER BY d.recipient_id, d.seq
LIMIT $3;

-- name: mark_retrieved
UPDATE deliveries SET state = 'retrieved', retrieved_at = $3
WHERE recipient_id = $1 AND message_id = ANY($2::uuid[]) AND state = 'pending' AND channel = 'pull'
RETURNING seq, message_id;

-- name: delivered_messages_cases
SELECT m.id AS message_id, m.case_id, m.message_type, m.payload_sha256
FROM messages m WHERE m.id = ANY($1::uuid[]);

-- name: known_deliveries
SELECT message_id FROM deliveries WHERE recipient_id = $1 AND message_id = ANY($2::uuid[]) AND channel = 'pull';

-- name: set_delivery_evidence
UPDATE deliveries SET evidence = $2 WHERE seq = $1;

-- name: case_messages_to
-- The messages of case $1 addressed to $2, however they were delivered, oldest first: what the
-- recipient's own console shows on the case. Pushed ones in any state (a webhook that fails does not
-- hide them); of the pull inbox, those retrieved (a new one is taken from the inbox, which records the
-- retrieval). A purged message (no signed form any more) is not among them. From messages_case_idx and
-- the deliveries' (message_id, recipient_id) key.
SELECT m.id AS message_id, m.case_id, m.sender_id, m.message_type, m.version, m.accepted_at,
       m.signed_form, m.receipt, m.form_encrypted, k.wrapped_key
FROM messages m JOIN deliveries d ON d.message_id = m.id AND d.recipient_id = $2 AND d.destination = ''
LEFT JOIN case_keys k ON k.case_id = m.case_id
WHERE m.case_id = $1 AND m.signed_form IS NOT NULL AND d.state <> 'purged'
  AND NOT (d.channel = 'pull' AND d.state = 'pending')
ORDER BY m.accepted_at, m.id;
