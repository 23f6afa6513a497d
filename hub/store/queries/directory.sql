-- name: insert_participant
INSERT INTO participants (id, name, kind, country, endpoint, accepts, domains, trusted_flagger, adapter,
                          adapter_config, hash_signals, contact_email)
VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::text[], '{}'), coalesce($8::boolean, false),
        coalesce($9, CASE WHEN $5::text IS NULL THEN 'pull' ELSE 'webhook' END), coalesce($10::jsonb, '{}'),
        coalesce($11::boolean, false), $12);

-- name: get_participant
SELECT id, name, kind, country, endpoint, accepts, domains, trusted_flagger, adapter, adapter_config, created_at,
       hash_signals, contact_email, home_hub FROM participants WHERE id = $1;

-- name: list_participants
SELECT id, name, kind, country, endpoint, accepts, domains, trusted_flagger, adapter, adapter_config, created_at,
       hash_signals, contact_email, home_hub FROM participants ORDER BY id;

-- name: get_participants
SELECT id, name, kind, country, endpoint, accepts, domains, trusted_flagger, adapter, adapter_config, created_at,
       hash_signals, contact_email, home_hub FROM participants WHERE id = ANY($1::text[]);

-- name: insert_key
INSERT INTO participant_keys (kid, participant_id, use, jwk, not_before, not_after, origin, binding, epoch)
VALUES ($1, $2, $3, $4, coalesce($5, now()), $6, $7, $8, $9);

-- name: bind_existing_key
-- A key registered before bindings (origin 'legacy') gets the binding its participant signed for it.
UPDATE participant_keys SET origin = 'binding', binding = $3
WHERE kid = $1 AND participant_id = $2 AND origin = 'legacy'
RETURNING kid;

-- name: participant_epoch
SELECT epoch FROM participants WHERE id = $1 FOR UPDATE;

-- name: reset_participant
-- A lost-key recovery: a new identity (epoch + 1) whose every earlier key is revoked.
WITH bumped AS (UPDATE participants SET epoch = epoch + 1 WHERE id = $1 AND kind <> 'hub' RETURNING epoch),
     revoked AS (UPDATE participant_keys SET revoked_at = $2, revocation_reason = 'reset'
                 WHERE participant_id = $1 AND revoked_at IS NULL RETURNING kid),
     -- the new identity has bound no further destination (issue 19): those of the old one stop
     dropped AS (UPDATE participant_destinations SET removed_at = $2
                 WHERE participant_id = $1 AND removed_at IS NULL RETURNING name),
     stopped AS (UPDATE deliveries
                 SET state = 'dead', dead_at = $2, dead_reason = 'the destination was removed from the directory',
                     due_at = NULL, lease_token = NULL, lease_expires_at = NULL
                 WHERE recipient_id = $1 AND destination <> '' AND state IN ('pending', 'in_flight')
                   AND EXISTS (SELECT 1 FROM bumped) RETURNING seq)
SELECT (SELECT epoch FROM bumped) AS epoch, ARRAY(SELECT kid FROM revoked ORDER BY kid) AS revoked,
       ARRAY(SELECT name FROM dropped ORDER BY name) AS destinations_removed;

-- name: set_delivery
UPDATE participants SET endpoint = $2, adapter = $3, adapter_config = $4, delivery_binding = $5
WHERE id = $1 AND kind <> 'hub'
RETURNING id;

-- name: delivery_of
SELECT endpoint, adapter, adapter_config, delivery_binding, epoch FROM participants WHERE id = $1;

-- name: directory_entries
-- The audit-log entries of one participant's directory changes, in log order (the partial index).
SELECT id, leaf_index, leaf_hash, recorded_at, event, actor, subject, case_id, message_id, detail
FROM audit_entries
WHERE subject = $1 AND event IN ('participant.added', 'participant.updated', 'participant.reset', 'key.added',
                                 'key.revoked', 'key.bound', 'delivery.bound', 'destination.bound',
                                 'destination.removed')
ORDER BY id;

-- name: get_key
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason, seq, origin, binding,
       epoch
FROM participant_keys WHERE kid = $1;

-- name: get_keys
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason, seq, origin, binding,
       epoch
FROM participant_keys WHERE kid = ANY($1::text[]);

-- name: keys_of_participant
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason, seq, origin, binding,
       epoch
FROM participant_keys WHERE participant_id = $1 ORDER BY seq;

-- name: encryption_keys_of
SELECT kid, participant_id, use, jwk, not_before, not_after, revoked_at, revocation_reason, seq, origin, binding,
       epoch
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
    hash_signals = coalesce($10::boolean, hash_signals),
    contact_email = CASE WHEN $11::boolean THEN $12 ELSE contact_email END
WHERE id = $1 AND kind <> 'hub'
RETURNING id;

-- name: domain_owners
SELECT id, domain FROM participants, unnest(domains) AS domain WHERE domain = ANY($1::text[]) AND id <> $2;

-- name: lock_hub_registration
SELECT pg_advisory_xact_lock(7094851203949);

-- name: upsert_federated_participant
-- A participant of a peer hub, as the peer's feed names it (docs/federation.md): its global id, its home.
-- It is reached through its home hub: adapter `hub`, at the home hub's endpoint.
INSERT INTO participants (id, name, kind, country, endpoint, accepts, home_hub, adapter)
VALUES ($1, $2, $3, $4, NULL, $5, $6, 'hub')
ON CONFLICT (id) DO UPDATE SET name = $2, kind = $3, country = $4, accepts = $5, adapter = 'hub'
WHERE participants.home_hub = $6
RETURNING id;

-- name: federated_participants_of
SELECT id FROM participants WHERE home_hub = $1 ORDER BY id;

-- name: revoke_keys_not_in
UPDATE participant_keys SET revoked_at = now(), revocation_reason = $3
WHERE participant_id = $1 AND revoked_at IS NULL AND kid <> ALL($2::text[])
RETURNING kid;

-- name: set_home_proof
-- The home hub's log proof of a mirrored participant's keys, as its latest feed carried it.
UPDATE participants SET home_proof = $2 WHERE id = $1 AND home_hub IS NOT NULL RETURNING id;

-- name: home_proofs_of
SELECT id, home_proof FROM participants WHERE id = ANY($1::text[]) AND home_proof IS NOT NULL;

-- name: peer_checkpoint_of
SELECT peer_checkpoint FROM participants WHERE id = $1 AND kind = 'hub';

-- name: set_peer_checkpoint
UPDATE participants SET peer_checkpoint = $2 WHERE id = $1 AND kind = 'hub' RETURNING id;

-- name: peer_log_alarm_of
SELECT peer_log_alarm FROM participants WHERE id = $1 AND kind = 'hub';

-- name: set_peer_log_alarm
UPDATE participants SET peer_log_alarm = $2 WHERE id = $1 AND kind = 'hub' RETURNING id;

-- name: peer_hubs
-- The peer hubs registered here (kind hub), not this hub itself: the periodic sync takes each one's feed.
SELECT id FROM participants WHERE kind = 'hub' AND id <> $1 ORDER BY id;

-- name: peer_sync_lock
-- One hub process at a time runs a round of the periodic peer sync; another skips its round.
SELECT pg_try_advisory_xact_lock(7094851203951);
