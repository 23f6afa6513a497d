-- name: append_audit
INSERT INTO audit_entries (recorded_at, event, actor, subject, case_id, message_id, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: sequencer_lock
SELECT pg_try_advisory_xact_lock(7094851203948);

-- name: unsequenced_audit
SELECT id, recorded_at, event, actor, subject, case_id, message_id, detail
FROM audit_entries WHERE leaf_index IS NULL ORDER BY id LIMIT $1 FOR UPDATE;

-- name: next_leaf_index
SELECT coalesce(max(leaf_index) + 1, 0) FROM audit_entries;

-- name: set_leaf
UPDATE audit_entries SET leaf_index = $2, leaf_hash = $3 WHERE id = $1;

-- name: latest_checkpoint
SELECT tree_size, root_hash, signed_at, checkpoint, frontier FROM audit_checkpoints
ORDER BY tree_size DESC LIMIT 1;

-- name: leaves_from
SELECT leaf_index, leaf_hash FROM audit_entries WHERE leaf_index >= $1 ORDER BY leaf_index;

-- name: insert_checkpoint
INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, checkpoint, frontier)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tree_size) DO NOTHING;

-- name: all_audit_entries
SELECT id, leaf_index, leaf_hash, recorded_at, event, actor, subject, case_id, message_id, detail
FROM audit_entries WHERE leaf_index IS NOT NULL ORDER BY leaf_index;

-- name: all_checkpoints
SELECT tree_size, root_hash, signed_at, checkpoint FROM audit_checkpoints ORDER BY tree_size;

-- name: unsequenced_count
SELECT count(*) FROM audit_entries WHERE leaf_index IS NULL;

-- name: oldest_unsequenced_at
SELECT min(recorded_at) FROM audit_entries WHERE leaf_index IS NULL;

-- name: leaf_hashes_upto
SELECT leaf_hash FROM audit_entries WHERE leaf_index < $1 ORDER BY leaf_index;

-- name: case_audit_entries
SELECT leaf_index, leaf_hash, recorded_at, event, actor, subject, case_id, message_id, detail
FROM audit_entries WHERE case_id = $1 AND leaf_index IS NOT NULL ORDER BY leaf_index;

-- name: evidence_messages
SELECT m.id, m.sender_id, m.kid, m.message_type, m.accepted_at, m.payload_sha256, m.signed_form, m.receipt,
       m.form_encrypted, k.wrapped_key
FROM messages m LEFT JOIN case_keys k ON k.case_id = m.case_id
WHERE m.case_id = $1 ORDER BY m.accepted_at, m.id;

-- name: evidence_deliveries
-- A further destination's as `recipient+name` (the bundle's file name; no participant id has a '+').
SELECT d.message_id, d.recipient_id || CASE WHEN d.destination = '' THEN '' ELSE '+' || d.destination END
       AS recipient_id, d.evidence
FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE m.case_id = $1 AND d.evidence IS NOT NULL ORDER BY d.seq;

-- name: evidence_keys
SELECT k.participant_id, k.jwk, k.not_before, k.not_after, k.revoked_at, k.origin, k.epoch, k.binding
FROM participant_keys k WHERE k.participant_id = ANY($1::text[]) ORDER BY k.participant_id, k.seq;

-- name: checkpoint_covering
SELECT tree_size, checkpoint FROM audit_checkpoints WHERE tree_size >= $1 ORDER BY tree_size LIMIT 1;

-- name: insert_tree_nodes
-- The complete subtrees new leaves closed ($1 levels, $2 indexes, $3 hashes): one statement a checkpoint.
-- A node already there (a checkpoint retried) is the same hash: nothing to do.
INSERT INTO audit_tree_nodes (level, idx, hash)
SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])
ON CONFLICT (level, idx) DO NOTHING;

-- name: tree_nodes
-- The stored subtrees an inclusion proof names ($1 levels, $2 indexes, pairwise): primary-key look-ups.
SELECT n.level, n.idx, n.hash
FROM unnest($1::smallint[], $2::bigint[]) AS wanted (level, idx)
JOIN audit_tree_nodes n ON n.level = wanted.level AND n.idx = wanted.idx;

-- name: leaf_hashes_at
-- The leaf hashes an inclusion proof names ($1 leaf indexes): unique-index look-ups.
SELECT leaf_index, leaf_hash FROM audit_entries WHERE leaf_index = ANY($1::bigint[]);

-- name: checkpoint_at
SELECT tree_size, root_hash, signed_at, checkpoint FROM audit_checkpoints WHERE tree_size = $1;

-- name: insert_cosignature
INSERT INTO checkpoint_cosignatures (tree_size, witness_id, cosignature, signed_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tree_size, witness_id) DO UPDATE SET cosignature = excluded.cosignature, signed_at = excluded.signed_at;

-- name: latest_cosigned_by
SELECT max(tree_size) AS tree_size FROM checkpoint_cosignatures WHERE witness_id = $1;

-- name: cosignatures_at
SELECT witness_id, cosignature, signed_at FROM checkpoint_cosignatures WHERE tree_size = $1 ORDER BY witness_id;
