-- name: coop_destination
-- A participant's adapter and its configuration: a Coop callback is checked with the key it registered.
SELECT adapter, adapter_config FROM participants WHERE id = $1;

-- name: coop_callback_target
-- The delivery a callback answers: the message, delivered to this platform through its Coop, with its
-- case, the case's originator (whom the answer goes to), and when the report reached Coop.
SELECT m.case_id, c.opened_by, d.delivered_at, c.purged_at
FROM deliveries d
JOIN messages m ON m.id = d.message_id
JOIN cases c ON c.id = m.case_id
WHERE d.message_id = $1 AND d.recipient_id = $2 AND d.adapter = 'coop';

-- name: find_coop_callback
SELECT id, verdict, recorded_message_id FROM coop_callbacks WHERE raw_sha256 = $1 AND recipient_id = $2;

-- name: insert_coop_callback
INSERT INTO coop_callbacks (id, received_at, recipient_id, case_id, message_id, coop_action_id, raw,
                            raw_encrypted, raw_sha256, raw_bytes, verdict, recorded_message_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (raw_sha256, recipient_id) DO NOTHING
RETURNING id;

-- name: get_coop_callback_raw
-- The kept callback body and its case's key, which opens it.
SELECT b.raw, b.raw_encrypted, k.wrapped_key
FROM coop_callbacks b LEFT JOIN case_keys k ON k.case_id = b.case_id
WHERE b.id = $1;
