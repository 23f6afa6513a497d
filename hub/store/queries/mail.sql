-- name: mail_reply_targets
-- The e-mail recipients of a message, with what a reply to its notice needs: the case, the case's
-- originator (whom the answer goes to), when the notice was delivered, and the recipient's adapter
-- configuration (the addresses allowed to answer).
SELECT d.recipient_id, m.case_id, c.opened_by, d.delivered_at, p.adapter_config, c.purged_at
FROM deliveries d
JOIN messages m ON m.id = d.message_id
JOIN cases c ON c.id = m.case_id
JOIN participants p ON p.id = d.recipient_id
WHERE d.message_id = $1 AND d.adapter = 'email'
ORDER BY d.recipient_id;

-- name: find_inbound_mail
SELECT id, verdict, recorded_message_id FROM inbound_mail WHERE raw_sha256 = $1 AND rcpt_to = $2;

-- name: insert_inbound_mail
INSERT INTO inbound_mail (id, received_at, rcpt_to, recipient_id, case_id, message_id, raw, raw_sha256,
                          verdict, recorded_message_id, auth, raw_encrypted, wrapped_key, raw_bytes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (raw_sha256, rcpt_to) DO NOTHING
RETURNING id;

-- name: get_inbound_raw
-- The kept e-mail and the key that opens it: its own (mail of no case) or its case's.
SELECT i.raw, i.raw_encrypted, coalesce(i.wrapped_key, k.wrapped_key) AS wrapped_key
FROM inbound_mail i LEFT JOIN case_keys k ON k.case_id = i.case_id
WHERE i.id = $1;

-- name: clear_inbound_mail
SELECT id, case_id, raw FROM inbound_mail WHERE raw IS NOT NULL AND NOT raw_encrypted
ORDER BY received_at LIMIT $1;

-- name: seal_inbound_mail
UPDATE inbound_mail SET raw = $2, wrapped_key = $3, raw_encrypted = true
WHERE id = $1 AND NOT raw_encrypted RETURNING 1;

-- name: list_inbound_mail
-- For the operator: what was kept of each reply, never its content nor its (bearer) reply address.
SELECT id, received_at, verdict, case_id, recipient_id, message_id, recorded_message_id, raw_sha256,
       raw_bytes, raw IS NOT NULL AS kept, auth
FROM inbound_mail
WHERE ($1::uuid IS NULL OR case_id = $1) AND ($2::text IS NULL OR verdict = $2)
ORDER BY received_at DESC, id
LIMIT $3;
