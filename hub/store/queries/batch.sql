-- name: record_rows
-- A batch's deferred rows in one statement (hub_record_rows, migration 0021; $1: JSON, see deferred_writes).
SELECT hub_record_rows($1::text::jsonb);

-- name: batch_snapshot
-- What an intake batch reads before it decides, in one round trip (hub/store/batch_snapshot.py): the
-- stored identities of its message ids ($1, as get_message_identities), the directory entries and
-- encryption keys of the participants it names ($2, as get_participants and encryption_keys_of), and the
-- cases its answers answer ($3): each case's row (get_case), its party rows locked as lock_case_parties
-- locks them (all the batch's, in case and participant order), its messages (case_message_ids) and its
-- wrapped data key (get_case_key), and the clocks an answer could change (open, or breached and not yet
-- answered: each answer's meetings are written with the batch's rows, their timeline entries made
-- beforehand for these). Each array's record columns are named in batch_snapshot.py.
SELECT
    ARRAY(SELECT ROW(m.id, m.sender_id, m.payload_sha256, m.receipt)
          FROM messages m WHERE m.id = ANY($1::uuid[])) AS identities,
    ARRAY(SELECT ROW(p.id, p.kind, p.country, p.accepts, p.trusted_flagger, p.adapter)
          FROM participants p WHERE p.id = ANY($2::text[])) AS directory,
    ARRAY(SELECT ROW(k.kid, k.participant_id, k.use, k.jwk::text, k.not_before, k.not_after, k.revoked_at,
                     k.revocation_reason, k.seq, k.origin, k.binding, k.epoch)
          FROM participant_keys k WHERE k.participant_id = ANY($2::text[]) AND k.use = 'enc'
          ORDER BY k.participant_id, k.kid) AS encryption_keys,
    ARRAY(SELECT ROW(c.id, c.opened_by, c.closed_at, c.jurisdictions, k.wrapped_key)
          FROM cases c LEFT JOIN case_keys k ON k.case_id = c.id WHERE c.id = ANY($3::uuid[])) AS cases,
    ARRAY(SELECT ROW(cp.case_id, cp.participant_id, cp.role, cp.state, cp.sees_parts, p.kind)
          FROM case_parties cp JOIN participants p ON p.id = cp.participant_id
          WHERE cp.case_id = ANY($3::uuid[])
          ORDER BY cp.case_id, cp.participant_id FOR UPDATE OF cp) AS parties,
    ARRAY(SELECT ROW(m.case_id, m.id, m.message_type, m.sender_id, m.recipients)
          FROM messages m WHERE m.case_id = ANY($3::uuid[])) AS case_messages,
    ARRAY(SELECT ROW(d.case_id, d.id, d.recipient_id, d.kind, d.rule_id, d.due_at)
          FROM deadlines d
          WHERE d.case_id = ANY($3::uuid[])
            AND (d.state = 'open' OR (d.state = 'breached' AND d.answered_late_at IS NULL))
          ORDER BY d.case_id, d.id) AS clocks;
