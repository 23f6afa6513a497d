-- name: signal_sequencer_lock
SELECT pg_try_advisory_xact_lock(7094851203950);

-- name: sequence_signal_changes
-- Committed changes not yet in the feed get the next positions, after every position given before: run
-- by one sequencer at a time (the lock above), after the changes' own commit, so positions follow commit
-- order and a reader never finds a change below a position it has seen.
UPDATE signal_changes c SET seq = top.seq + pending.n
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n
      FROM (SELECT id FROM signal_changes WHERE seq IS NULL ORDER BY id LIMIT $1) AS oldest) AS pending,
     (SELECT coalesce(max(seq), 0) AS seq FROM signal_changes) AS top
WHERE c.id = pending.id
RETURNING c.seq;

-- name: signal_feed_page
-- A platform's changes after position $2, oldest first, each with its copy's full current record and the
-- copy's whole history.
SELECT ch.seq, s.id, s.case_id, s.message_id, s.item, s.alg, s.value, s.created_at,
       c.audience, c.status, c.status_changed_at, h.statuses, h.times
FROM signal_changes ch
JOIN signal_copies c ON c.signal_id = ch.signal_id AND c.platform_id = ch.platform_id
JOIN signals s ON s.id = ch.signal_id
CROSS JOIN LATERAL (
    SELECT array_agg(x.status ORDER BY x.id) AS statuses, array_agg(x.changed_at ORDER BY x.id) AS times
    FROM signal_changes x WHERE x.signal_id = ch.signal_id AND x.platform_id = ch.platform_id
) AS h
WHERE ch.platform_id = $1 AND ch.seq > $2
ORDER BY ch.seq
LIMIT $3;

-- name: record_feed_position
-- The platform asked for what follows position $2: it holds every change up to there.
INSERT INTO signal_feed_positions (platform_id, position, read_at) VALUES ($1, $2, $3)
ON CONFLICT (platform_id) DO UPDATE
SET position = greatest(signal_feed_positions.position, excluded.position), read_at = excluded.read_at;

-- name: signal_feed_end
-- The last position given so far (0 for an empty feed).
SELECT coalesce(max(seq), 0) FROM signal_changes;
