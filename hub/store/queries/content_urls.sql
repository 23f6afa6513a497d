-- name: insert_url_digests
-- A takedown request's content-URL digests (deferrable: hub_record_rows has the same part, migration 0034).
-- $1 case, $2 message, $3 the digests.
INSERT INTO content_url_digests (case_id, message_id, digest)
SELECT $1, $2, d FROM unnest($3::bytea[]) AS d
ON CONFLICT DO NOTHING;

-- name: messages_by_url_digest
-- The messages naming digest $1 that participant $2 sent or was sent, newest first, at most $3.
SELECT m.case_id, m.id AS message_id, m.message_type, m.accepted_at
FROM content_url_digests d
JOIN messages m ON m.id = d.message_id
WHERE d.digest = $1 AND (m.sender_id = $2 OR $2 = ANY (m.recipients))
ORDER BY m.accepted_at DESC, m.id
LIMIT $3;

-- name: purge_url_digests
DELETE FROM content_url_digests WHERE case_id = $1 RETURNING message_id;
