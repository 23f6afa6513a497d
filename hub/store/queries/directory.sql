-- name: insert_participant
INSERT INTO participants (id, name, kind, country, endpoint, accepts)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: get_participant
SELECT id, name, kind, country, endpoint, accepts, created_at FROM participants WHERE id = $1;

-- name: list_participants
SELECT id, name, kind, country, endpoint, accepts, created_at FROM participants ORDER BY id;

-- name: get_participants
SELECT id, name, kind, country, endpoint, accepts, created_at FROM participants WHERE id = ANY($1::text[]);

-- name: insert_key
INSERT INTO participant_keys (kid, participant_id, use, jwk, not_before, not_after)
VALUES ($1, $2, $3, $4, coalesce($5, now()), $6);

-- name: get_key
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason
FROM participant_keys WHERE kid = $1;

-- name: keys_of_participant
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason
FROM participant_keys WHERE participant_id = $1 ORDER BY not_before, kid;

-- name: revoke_key
UPDATE participant_keys SET revoked_at = now(), revocation_reason = $3
WHERE kid = $1 AND participant_id = $2 AND revoked_at IS NULL
RETURNING kid;
