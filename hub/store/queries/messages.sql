-- name: get_message_identity
SELECT id, sender_id, payload_sha256, case_id, accepted_at, receipt FROM messages WHERE id = $1;

-- name: insert_case
INSERT INTO cases (id, opened_by, case_type, opened_at, jurisdictions) VALUES ($1, $2, $3, $4, $5);

-- name: get_case
SELECT id, opened_by, case_type, opened_at, closed_at, closed_by, close_reason, jurisdictions, purged_at
FROM cases WHERE id = $1;

-- name: lock_case_parties
SELECT cp.participant_id, cp.role, cp.state, p.kind
FROM case_parties cp JOIN participants p ON p.id = cp.participant_id
WHERE cp.case_id = $1 ORDER BY cp.participant_id FOR UPDATE OF cp;

-- name: case_message_ids
SELECT id, message_type FROM messages WHERE case_id = $1;

-- name: insert_message
INSERT INTO messages (id, sender_id, kid, message_type, version, case_id, in_reply_to, recipients,
                      created_at, accepted_at, payload_sha256, signed_form, receipt, form_encrypted, category)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15);

-- name: insert_party
INSERT INTO case_parties (case_id, participant_id, role, state, state_changed_at, added_by, added_at)
VALUES ($1, $2, $3, $4, CASE WHEN $4::text IS NULL THEN NULL ELSE $6::timestamptz END, $5, $6)
ON CONFLICT (case_id, participant_id) DO NOTHING;

-- name: set_party_state
UPDATE case_parties SET state = $4, state_changed_at = $5
WHERE case_id = $1 AND participant_id = $2 AND state = $3;

-- name: insert_deliveries
-- A recipient whose adapter pushes (webhook, email...) is pushed to, due at once; a pull recipient
-- reads its inbox.
INSERT INTO deliveries (message_id, recipient_id, created_at, channel, adapter, due_at)
SELECT $1, p.id, $3,
       CASE WHEN p.adapter = 'pull' THEN 'pull' ELSE 'push' END,
       CASE WHEN p.adapter = 'pull' THEN NULL ELSE p.adapter END,
       CASE WHEN p.adapter = 'pull' THEN NULL ELSE $3::timestamptz END
FROM participants p WHERE p.id = ANY($2::text[])
RETURNING seq, recipient_id, channel;

-- name: ensure_destinations
INSERT INTO destinations (participant_id)
SELECT p.id FROM participants p WHERE p.id = ANY($1::text[]) AND p.adapter <> 'pull'
ON CONFLICT (participant_id) DO NOTHING;

-- name: notify_inbox
SELECT pg_notify('hub_inbox', r) FROM unnest($1::text[]) AS r;

-- name: notify_delivery
SELECT pg_notify('hub_delivery', '');

-- name: insert_event
INSERT INTO case_events (case_id, occurred_at, event, actor, subject, message_id, from_state, to_state, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: lock_party_state
SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2 AND role = 'recipient' FOR UPDATE;

-- name: hold_clocks
UPDATE deliveries SET clocks = $2 WHERE seq = $1;

-- name: request_deletion
UPDATE case_parties SET deletion_requested_at = $3
WHERE case_id = $1 AND participant_id = ANY($2::text[]) AND role = 'recipient';

-- name: confirm_deletion
UPDATE case_parties SET deletion_confirmed_at = $3 WHERE case_id = $1 AND participant_id = $2;

-- name: close_case
UPDATE cases SET closed_at = $2, closed_by = $3, close_reason = $4 WHERE id = $1 AND closed_at IS NULL;

-- name: participant_facts
SELECT id, kind, country, trusted_flagger FROM participants WHERE id = ANY($1::text[]);

-- name: platforms_serving
SELECT id, kind, country, domains FROM participants WHERE kind = 'platform' AND domains && $1::text[];

-- name: participants_of_kind
SELECT id, kind, country, domains FROM participants WHERE kind = $1 AND country = $2;
