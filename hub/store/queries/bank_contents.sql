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

-- name: opted_in_to_bank
-- The active opted-in hash signals of platforms with an `hma` destination (their own, or a further one:
-- at most one each, hub/services/bindings.py) not yet banked there, one row per content item of a
-- request (its hashes together), with that destination's configuration.
WITH hma AS (
    SELECT id AS participant_id, endpoint, adapter_config FROM participants WHERE adapter = 'hma'
    UNION ALL
    SELECT participant_id, endpoint, adapter_config FROM participant_destinations
    WHERE adapter = 'hma' AND removed_at IS NULL
)
SELECT c.platform_id, h.endpoint, h.adapter_config, s.case_id, s.message_id, s.item,
       array_agg(s.alg ORDER BY s.alg) AS algs, array_agg(s.value ORDER BY s.alg) AS hash_values
FROM signal_copies c
JOIN signals s ON s.id = c.signal_id
JOIN hma h ON h.participant_id = c.platform_id
WHERE c.audience = 'opted-in' AND c.status = 'active' AND s.value IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM bank_contents b
                  WHERE b.recipient_id = c.platform_id AND b.message_id = s.message_id AND b.item = s.item)
GROUP BY c.platform_id, h.endpoint, h.adapter_config, s.case_id, s.message_id, s.item
ORDER BY s.case_id, s.message_id, s.item, c.platform_id
LIMIT $1;

-- name: banked_but_withdrawn
-- The cases and platforms whose banked contents' signal copies are no longer active there (withdrawn,
-- or deleted at the purge), or which the purge made due: to remove, with the platform's `hma`
-- destination (adapter NULL: it has none any more, nothing to call).
WITH hma AS (
    SELECT id AS participant_id, endpoint, adapter_config FROM participants WHERE adapter = 'hma'
    UNION ALL
    SELECT participant_id, endpoint, adapter_config FROM participant_destinations
    WHERE adapter = 'hma' AND removed_at IS NULL
)
SELECT DISTINCT b.case_id, b.recipient_id, CASE WHEN h.participant_id IS NULL THEN NULL ELSE 'hma' END AS adapter,
       h.endpoint, h.adapter_config
FROM bank_contents b LEFT JOIN hma h ON h.participant_id = b.recipient_id
WHERE b.removed_at IS NULL
  AND (b.remove_due_at IS NOT NULL
       OR EXISTS (SELECT 1 FROM signals s JOIN signal_copies c ON c.signal_id = s.id
                  WHERE s.message_id = b.message_id AND s.item = b.item
                    AND c.platform_id = b.recipient_id AND c.status <> 'active'))
ORDER BY b.case_id, b.recipient_id
LIMIT $1;
