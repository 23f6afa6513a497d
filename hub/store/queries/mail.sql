-- name: mail_reply_targets
-- The e-mail recipients of a message, with what a reply to its notice needs: the case, the case's
-- originator (whom the answer goes to), when the notice was delivered, and the recipient's adapter
-- configuration (the addresses allowed to answer).
SELECT d.recipient_id, m.case_id, c.opened_by, d.delivered_at, p.adapter_config
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
                          verdict, recorded_message_id, auth)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (raw_sha256, rcpt_to) DO NOTHING
RETURNING id;
