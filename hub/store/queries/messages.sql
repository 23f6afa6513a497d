-- name: get_message_identity
SELECT id, sender_id, payload_sha256, case_id, accepted_at, receipt FROM messages WHERE id = $1;

-- name: get_message_identities
SELECT id, sender_id, payload_sha256, receipt FROM messages WHERE id = ANY($1::uuid[]);

-- name: open_case
-- The case, its originator and (when messages are stored encrypted) its data key, in one round trip.
-- The parties' and the key's foreign keys are checked at the end of the statement, when the case exists.
WITH opened AS (
    INSERT INTO cases (id, opened_by, case_type, opened_at, jurisdictions) VALUES ($1, $2, $3, $4, $5)
), originator AS (
    INSERT INTO case_parties (case_id, participant_id, role, state, state_changed_at, added_by, added_at,
                              case_opened_at)
    VALUES ($1, $2, 'originator', NULL, NULL, $2, $4, $4)
)
INSERT INTO case_keys (case_id, wrapped_key, created_at)
SELECT $1, $6::bytea, $4 WHERE $6::bytea IS NOT NULL;

-- name: get_case
SELECT id, opened_by, case_type, opened_at, closed_at, closed_by, close_reason, jurisdictions, purged_at
FROM cases WHERE id = $1;

-- name: lock_case_parties
SELECT cp.participant_id, cp.role, cp.state, cp.sees_parts, p.kind
FROM case_parties cp JOIN participants p ON p.id = cp.participant_id
WHERE cp.case_id = $1 ORDER BY cp.participant_id FOR UPDATE OF cp;

-- name: case_message_ids
SELECT id, message_type, sender_id, recipients FROM messages WHERE case_id = $1;

-- name: insert_message
INSERT INTO messages (id, sender_id, kid, message_type, version, case_id, in_reply_to, recipients,
                      created_at, accepted_at, payload_sha256, signed_form, receipt, form_encrypted, category)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15);

-- name: insert_party
-- $7: what the party sees (sees_parts: NULL the whole case), as hub/core/case_view.py decided it.
INSERT INTO case_parties (case_id, participant_id, role, state, state_changed_at, added_by, added_at,
                          case_opened_at, sees_parts)
VALUES ($1, $2, $3, $4, CASE WHEN $4::text IS NULL THEN NULL ELSE $6::timestamptz END, $5, $6,
        (SELECT opened_at FROM cases WHERE id = $1), $7)
ON CONFLICT (case_id, participant_id) DO NOTHING;

-- name: set_party_state
-- The recipient $2 moves from $3 (the state admission saw, held by the party row's lock) to $4; raises
-- when it is not in $3 (hub_set_party_state, migration 0038: hub_record_rows does the same for a batch).
SELECT hub_set_party_state($1, $2, $3, $4, $5);

-- name: insert_deliveries
-- One delivery per recipient. A recipient whose adapter pushes (webhook, email...) is pushed to, due at
-- once, and holds the clocks ($4: recipient -> clocks) that start when the push succeeds; its
-- destination row is created and the delivery workers woken. A pull recipient reads its inbox, which is
-- woken. NOTIFY is sent on commit, and repeats of one notification within a transaction are sent once.
WITH inserted AS (
    INSERT INTO deliveries (message_id, recipient_id, created_at, channel, adapter, due_at, clocks)
    SELECT $1, p.id, $3,
           CASE WHEN p.adapter = 'pull' THEN 'pull' ELSE 'push' END,
           CASE WHEN p.adapter = 'pull' THEN NULL ELSE p.adapter END,
           CASE WHEN p.adapter = 'pull' THEN NULL ELSE $3::timestamptz END,
           CASE WHEN p.adapter = 'pull' THEN '[]'::jsonb ELSE coalesce($4::jsonb -> p.id, '[]'::jsonb) END
    FROM participants p WHERE p.id = ANY($2::text[])
    RETURNING seq, recipient_id, channel
), destination AS (
    -- Insert only a missing row: an insert that meets an existing row would wait for the transaction
    -- holding that row's lock (a claim, a finished push) to end.
    INSERT INTO destinations (participant_id, name)
    SELECT i.recipient_id, '' FROM inserted i
    WHERE i.channel = 'push'
      AND NOT EXISTS (SELECT 1 FROM destinations t WHERE t.participant_id = i.recipient_id AND t.name = '')
    ON CONFLICT (participant_id, name) DO NOTHING
)
SELECT seq, recipient_id, channel,
       CASE WHEN channel = 'push' THEN pg_notify('hub_delivery', '') ELSE pg_notify('hub_inbox', recipient_id) END
FROM inserted;

-- name: notify_delivery
SELECT pg_notify('hub_delivery', '');

-- name: insert_event
-- The timeline row and the same fact in the tamper-evident log ($10: the detail with the states), at once.
WITH timeline AS (
    INSERT INTO case_events (case_id, occurred_at, event, actor, subject, message_id, from_state, to_state, detail)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
)
INSERT INTO audit_entries (recorded_at, event, actor, subject, case_id, message_id, detail)
VALUES ($2, $3, $4, $5, $1, $6, $10);

-- name: lock_party_state
SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2 AND role = 'recipient' FOR UPDATE;

-- name: request_deletion
UPDATE case_parties SET deletion_requested_at = $3
WHERE case_id = $1 AND participant_id = ANY($2::text[]) AND role = 'recipient';

-- name: confirm_deletion
UPDATE case_parties SET deletion_confirmed_at = $3 WHERE case_id = $1 AND participant_id = $2;

-- name: close_case
UPDATE cases SET closed_at = $2, closed_by = $3, close_reason = $4 WHERE id = $1 AND closed_at IS NULL;

-- name: platforms_serving
-- Routing candidates are this hub's own participants: a peer hub's (home_hub set) is named by its global
-- id, never routed to (a routed message names no recipient its peer could check: docs/federation.md).
SELECT id, kind, country, domains FROM participants
WHERE kind = 'platform' AND domains && $1::text[] AND home_hub IS NULL;

-- name: participants_of_kind
SELECT id, kind, country, domains FROM participants WHERE kind = $1 AND country = $2 AND home_hub IS NULL;

-- name: takedown_to_recipient
-- The case's ($1) first takedown request addressed to $2, with the case's wrapped key to open it.
SELECT m.sender_id, m.signed_form, m.form_encrypted,
       (SELECT k.wrapped_key FROM case_keys k WHERE k.case_id = m.case_id) AS wrapped_key
FROM messages m
WHERE m.case_id = $1 AND m.message_type = 'takedown-request' AND $2 = ANY (m.recipients)
ORDER BY m.accepted_at, m.id
LIMIT 1;
