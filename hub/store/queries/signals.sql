-- name: opted_in_platforms
-- The platforms that take the hash signals of referrals not addressed to them (with the person's consent).
SELECT id FROM participants WHERE hash_signals AND kind = 'platform' ORDER BY id;

-- name: insert_signals
-- A request's signals, their copies and each copy's first change (`active`), in one statement (deferrable).
-- $1 case, $2 message, $3 at; $4-$7 the signals (id, item, alg, value); $8-$10 the copies (signal, platform,
-- audience).
WITH made AS (
    INSERT INTO signals (id, case_id, message_id, item, alg, value, created_at)
    SELECT u.id, $1, $2, u.item, u.alg, u.value, $3
    FROM unnest($4::uuid[], $5::int[], $6::text[], $7::text[]) AS u(id, item, alg, value)
    RETURNING id
), copies AS (
    INSERT INTO signal_copies (signal_id, platform_id, audience, status, status_changed_at)
    SELECT u.signal_id, u.platform_id, u.audience, 'active', $3
    FROM unnest($8::uuid[], $9::text[], $10::text[]) AS u(signal_id, platform_id, audience)
    WHERE u.signal_id IN (SELECT id FROM made)
    RETURNING signal_id, platform_id
)
INSERT INTO signal_changes (signal_id, platform_id, status, changed_at)
SELECT signal_id, platform_id, 'active', $3 FROM copies;

-- name: lock_case_signal_copies
-- Every copy of the case's signals, with the recipients of the request each came from, locked.
SELECT c.signal_id, c.platform_id, c.audience, c.status, m.recipients
FROM signals s
JOIN signal_copies c ON c.signal_id = s.id
JOIN messages m ON m.id = s.message_id
WHERE s.case_id = $1
ORDER BY c.signal_id, c.platform_id
FOR UPDATE OF c;

-- name: withdrawn_recipients
SELECT participant_id FROM case_parties WHERE case_id = $1 AND role = 'recipient' AND state = 'withdrawn';

-- name: change_signal_copies
-- Copies ($1 signals, $2 platforms) move to status $3 at $4; each move is appended to the change log.
WITH moved AS (
    UPDATE signal_copies c SET status = $3, status_changed_at = $4
    FROM unnest($1::uuid[], $2::text[]) AS u(signal_id, platform_id)
    WHERE c.signal_id = u.signal_id AND c.platform_id = u.platform_id
    RETURNING c.signal_id, c.platform_id
)
INSERT INTO signal_changes (signal_id, platform_id, status, changed_at)
SELECT signal_id, platform_id, $3, $4 FROM moved;

-- name: forget_case_hashes
-- The purge: the hub forgets the hashes of the case (the signals' ids stay, for platforms to delete by).
UPDATE signals SET value = NULL, purged_at = $2 WHERE case_id = $1 AND value IS NOT NULL;

-- name: recipient_signal_copies
-- The case's ($1) signals the platform ($2) holds a copy of as a recipient of the request.
SELECT c.signal_id
FROM signals s
JOIN signal_copies c ON c.signal_id = s.id
WHERE s.case_id = $1 AND c.platform_id = $2 AND c.audience = 'recipient';
