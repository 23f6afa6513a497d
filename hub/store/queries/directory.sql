-- name: insert_participant
INSERT INTO participants (id, name, kind, country, endpoint, accepts, domains, trusted_flagger, adapter,
                          adapter_config, hash_signals)
VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::text[], '{}'), coalesce($8::boolean, false),
        coalesce($9, CASE WHEN $5::text IS NULL THEN 'pull' ELSE 'webhook' END), coalesce($10::jsonb, '{}'),
        coalesce($11::boolean, false));

-- name: get_participant
SELECT id, name, kind, country, endpoint, accepts, domains, trusted_flagger, adapter, adapter_config, created_at,
       hash_signals FROM participants WHERE id = $1;

-- name: list_participants
SELECT id, name, kind, country, endpoint, accepts, domains, trusted_flagger, adapter, adapter_config, created_at,
       hash_signals FROM participants ORDER BY id;

-- name: get_participants
SELECT id, name, kind, country, endpoint, accepts, domains, trusted_flagger, adapter, adapter_config, created_at,
       hash_signals FROM participants WHERE id = ANY($1::text[]);

-- name: insert_key
INSERT INTO participant_keys (kid, participant_id, use, jwk, not_before, not_after)
VALUES ($1, $2, $3, $4, coalesce($5, now()), $6);

-- name: get_key
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason
FROM participant_keys WHERE kid = $1;

-- name: get_keys
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason
FROM participant_keys WHERE kid = ANY($1::text[]);

-- name: keys_of_participant
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason
FROM participant_keys WHERE participant_id = $1 ORDER BY not_before, kid;

-- name: encryption_keys_of
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason
FROM participant_keys WHERE participant_id = ANY($1::text[]) AND use = 'enc' ORDER BY participant_id, kid;

-- name: revoke_key
UPDATE participant_keys SET revoked_at = now(), revocation_reason = $3
WHERE kid = $1 AND participant_id = $2 AND revoked_at IS NULL
RETURNING kid;

-- name: update_participant
UPDATE participants
SET domains = ARRAY(SELECT DISTINCT d FROM unnest(array_cat(domains, $2::text[])) AS d
                    WHERE d <> ALL($3::text[]) ORDER BY d),
    trusted_flagger = coalesce($4, trusted_flagger),
    endpoint = CASE WHEN $5::boolean THEN $6 ELSE endpoint END,
    accepts = coalesce($7, accepts),
    adapter = coalesce($8, CASE WHEN $5::boolean AND $6::text IS NULL AND adapter = 'webhook' THEN 'pull'
                                WHEN $5::boolean AND $6::text IS NOT NULL AND adapter = 'pull' THEN 'webhook'
                                ELSE adapter END),
    adapter_config = coalesce($9::jsonb, adapter_config),
    hash_signals = coalesce($10::boolean, hash_signals)
WHERE id = $1 AND kind <> 'hub'
RETURNING id;

-- name: domain_owners
SELECT id, domain FROM participants, unnest(domains) AS domain WHERE domain = ANY($1::text[]) AND id <> $2;

-- name: lock_hub_registration
SELECT pg_advisory_xact_lock(7094851203949);
