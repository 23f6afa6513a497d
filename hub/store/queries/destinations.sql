-- name: destinations_of
-- A participant's further destinations ($2: with the removed ones too), by name.
SELECT participant_id, name, adapter, endpoint, adapter_config, carries, binding, bound_at, added_at,
       removed_at
FROM participant_destinations
WHERE participant_id = $1 AND ($2::boolean OR removed_at IS NULL)
ORDER BY name;

-- name: lock_destination_row
SELECT name, bound_at, removed_at FROM participant_destinations
WHERE participant_id = $1 AND name = $2 FOR UPDATE;

-- name: upsert_destination
-- A destination bound (again, after its removal: the caller checked the binding is newer).
INSERT INTO participant_destinations (participant_id, name, adapter, endpoint, adapter_config, carries,
                                      binding, bound_at, added_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (participant_id, name) DO UPDATE
SET adapter = excluded.adapter, endpoint = excluded.endpoint, adapter_config = excluded.adapter_config,
    carries = excluded.carries, binding = excluded.binding, bound_at = excluded.bound_at,
    added_at = excluded.added_at, removed_at = NULL;

-- name: remove_destination
-- $3: the participant's remove-destination binding (NULL: the operator's removal keeps the add binding),
-- $4 its iat, $5 now.
UPDATE participant_destinations
SET removed_at = $5, binding = coalesce($3, binding), bound_at = coalesce($4, bound_at)
WHERE participant_id = $1 AND name = $2 AND removed_at IS NULL
RETURNING name;

-- name: stop_destination_deliveries
-- Deliveries to a removed destination not yet made are never made: dead, with the reason, visibly.
UPDATE deliveries
SET state = 'dead', dead_at = $3, dead_reason = 'the destination was removed from the directory',
    due_at = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE recipient_id = $1 AND destination = $2 AND state IN ('pending', 'in_flight')
RETURNING seq;

-- name: remove_all_destinations
-- A reset: the new identity has bound no destination yet.
UPDATE participant_destinations SET removed_at = $2
WHERE participant_id = $1 AND removed_at IS NULL
RETURNING name;
