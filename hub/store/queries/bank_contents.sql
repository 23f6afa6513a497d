-- name: banked_contents
-- What is banked (and not removed) for a recipient on a case, in the order it was banked.
SELECT message_id, item, bank, content_id FROM bank_contents
WHERE case_id = $1 AND recipient_id = $2 AND removed_at IS NULL
ORDER BY banked_at, message_id, item;

-- name: record_banked_content
INSERT INTO bank_contents (recipient_id, message_id, item, case_id, bank, content_id, banked_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (recipient_id, message_id, item) DO NOTHING;

-- name: mark_bank_content_removed
UPDATE bank_contents SET removed_at = $4
WHERE recipient_id = $1 AND message_id = $2 AND item = $3 AND removed_at IS NULL;

-- name: due_bank_removals
-- The cases whose banked contents the purge made due for removal, with each platform's adapter and its
-- configuration (only `hma` platforms are swept; a platform no longer on it keeps them due).
SELECT DISTINCT b.case_id, b.recipient_id, p.adapter, p.endpoint, p.adapter_config
FROM bank_contents b JOIN participants p ON p.id = b.recipient_id
WHERE b.remove_due_at IS NOT NULL AND b.removed_at IS NULL
ORDER BY b.case_id, b.recipient_id
LIMIT $1;
