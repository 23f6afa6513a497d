-- Issue 21: one round trip per batch. The rows a batch defers (hub/store/deferred_writes.py: the inserts of
-- new referrals, the clocks and timeline entries of finished pushes) are written by one function call,
-- which is one statement and, outside a transaction, its own transaction: it writes all of them or none.
--
-- `rows` maps a named query of hub/store/queries/ to a list of rows, each the JSON array of that query's
-- arguments in order ($1 at index 0): uuids and timestamps as strings (RFC 3339), bytea as hex, arrays and
-- jsonb as JSON. Each part does what its named query does for one row (the per-row path; a test compares
-- the rows the two store), in the order foreign keys need, rows in the order given.

CREATE FUNCTION hub_text_array(value jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(value)) END
$$;

CREATE FUNCTION hub_record_rows(rows jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    pushed text[];
    pulled text[];
BEGIN
    -- open_case: the case, its originator, its data key (when messages are stored encrypted).
    INSERT INTO cases (id, opened_by, case_type, opened_at, jurisdictions)
    SELECT (r->>0)::uuid, r->>1, r->>2, (r->>3)::timestamptz, hub_text_array(r->4)
    FROM jsonb_array_elements(rows->'open_case') WITH ORDINALITY AS e(r, n) ORDER BY n;
    INSERT INTO case_parties (case_id, participant_id, role, state, state_changed_at, added_by, added_at,
                              case_opened_at)
    SELECT (r->>0)::uuid, r->>1, 'originator', NULL, NULL, r->>1, (r->>3)::timestamptz, (r->>3)::timestamptz
    FROM jsonb_array_elements(rows->'open_case') WITH ORDINALITY AS e(r, n) ORDER BY n;
    INSERT INTO case_keys (case_id, wrapped_key, created_at)
    SELECT (r->>0)::uuid, decode(r->>5, 'hex'), (r->>3)::timestamptz
    FROM jsonb_array_elements(rows->'open_case') WITH ORDINALITY AS e(r, n)
    WHERE r->>5 IS NOT NULL ORDER BY n;

    -- insert_message
    INSERT INTO messages (id, sender_id, kid, message_type, version, case_id, in_reply_to, recipients,
                          created_at, accepted_at, payload_sha256, signed_form, receipt, form_encrypted, category)
    SELECT (r->>0)::uuid, r->>1, r->>2, r->>3, r->>4, (r->>5)::uuid, (r->>6)::uuid, hub_text_array(r->7),
           (r->>8)::timestamptz, (r->>9)::timestamptz, r->>10, decode(r->>11, 'hex'), r->>12,
           (r->>13)::boolean, r->>14
    FROM jsonb_array_elements(rows->'insert_message') WITH ORDINALITY AS e(r, n) ORDER BY n;

    -- insert_signals: a request's signals, their copies, each copy's first change.
    INSERT INTO signals (id, case_id, message_id, item, alg, value, created_at)
    SELECT u.id, (r->>0)::uuid, (r->>1)::uuid, u.item, u.alg, u.value, (r->>2)::timestamptz
    FROM jsonb_array_elements(rows->'insert_signals') WITH ORDINALITY AS e(r, n),
         unnest(hub_text_array(r->3)::uuid[], hub_text_array(r->4)::int[], hub_text_array(r->5),
                hub_text_array(r->6)) WITH ORDINALITY AS u(id, item, alg, value, k)
    ORDER BY n, k;
    WITH copies AS (
        INSERT INTO signal_copies (signal_id, platform_id, audience, status, status_changed_at)
        SELECT u.signal_id, u.platform_id, u.audience, 'active', (r->>2)::timestamptz
        FROM jsonb_array_elements(rows->'insert_signals') WITH ORDINALITY AS e(r, n),
             unnest(hub_text_array(r->7)::uuid[], hub_text_array(r->8), hub_text_array(r->9))
                 WITH ORDINALITY AS u(signal_id, platform_id, audience, k)
        WHERE u.signal_id = ANY (hub_text_array(r->3)::uuid[])
        ORDER BY n, k
        RETURNING signal_id, platform_id, status_changed_at
    )
    INSERT INTO signal_changes (signal_id, platform_id, status, changed_at)
    SELECT signal_id, platform_id, 'active', status_changed_at FROM copies;

    -- insert_party
    INSERT INTO case_parties (case_id, participant_id, role, state, state_changed_at, added_by, added_at,
                              case_opened_at, sees_parts)
    SELECT (r->>0)::uuid, r->>1, r->>2, r->>3, CASE WHEN r->>3 IS NULL THEN NULL ELSE (r->>5)::timestamptz END,
           r->>4, (r->>5)::timestamptz, (SELECT c.opened_at FROM cases c WHERE c.id = (r->>0)::uuid),
           hub_text_array(r->6)
    FROM jsonb_array_elements(rows->'insert_party') WITH ORDINALITY AS e(r, n) ORDER BY n
    ON CONFLICT (case_id, participant_id) DO NOTHING;

    -- insert_deliveries: pushed (due now, holding their clocks) or in a pull inbox; destinations made for
    -- pushes (only missing ones: see insert_deliveries), and the workers and inboxes woken on commit.
    WITH inserted AS (
        INSERT INTO deliveries (message_id, recipient_id, created_at, channel, adapter, due_at, clocks)
        SELECT (r->>0)::uuid, p.id, (r->>2)::timestamptz,
               CASE WHEN p.adapter = 'pull' THEN 'pull' ELSE 'push' END,
               CASE WHEN p.adapter = 'pull' THEN NULL ELSE p.adapter END,
               CASE WHEN p.adapter = 'pull' THEN NULL ELSE (r->>2)::timestamptz END,
               CASE WHEN p.adapter = 'pull' THEN '[]'::jsonb ELSE coalesce(r->3 -> p.id, '[]'::jsonb) END
        FROM jsonb_array_elements(rows->'insert_deliveries') WITH ORDINALITY AS e(r, n)
        JOIN participants p ON p.id = ANY (hub_text_array(r->1))
        ORDER BY n, p.id
        RETURNING recipient_id, channel
    )
    SELECT array_agg(DISTINCT recipient_id) FILTER (WHERE channel = 'push'),
           array_agg(DISTINCT recipient_id) FILTER (WHERE channel = 'pull')
    INTO pushed, pulled
    FROM inserted;
    INSERT INTO destinations (participant_id)
    SELECT x FROM unnest(pushed) AS x
    WHERE NOT EXISTS (SELECT 1 FROM destinations t WHERE t.participant_id = x)
    ON CONFLICT (participant_id) DO NOTHING;
    IF pushed IS NOT NULL THEN
        PERFORM pg_notify('hub_delivery', '');
    END IF;
    PERFORM pg_notify('hub_inbox', x) FROM unnest(pulled) AS x;

    -- insert_deadline
    INSERT INTO deadlines (case_id, message_id, recipient_id, kind, jurisdiction, rule_id, legal_basis,
                           notify_regulator, started_at, due_at, reminders, next_fire_at)
    SELECT (r->>0)::uuid, (r->>1)::uuid, r->>2, r->>3, r->>4, r->>5, r->>6, (r->>7)::boolean,
           (r->>8)::timestamptz, (r->>9)::timestamptz, hub_text_array(r->10)::timestamptz[],
           least((r->>9)::timestamptz,
                 coalesce((hub_text_array(r->10)::timestamptz[])[1], (r->>9)::timestamptz))
    FROM jsonb_array_elements(rows->'insert_deadline') WITH ORDINALITY AS e(r, n) ORDER BY n
    ON CONFLICT (message_id, recipient_id, kind) DO NOTHING;

    -- insert_event: the timeline row and the same fact in the tamper-evident log.
    INSERT INTO case_events (case_id, occurred_at, event, actor, subject, message_id, from_state, to_state,
                             detail)
    SELECT (r->>0)::uuid, (r->>1)::timestamptz, r->>2, r->>3, r->>4, (r->>5)::uuid, r->>6, r->>7, r->8
    FROM jsonb_array_elements(rows->'insert_event') WITH ORDINALITY AS e(r, n) ORDER BY n;
    INSERT INTO audit_entries (recorded_at, event, actor, subject, case_id, message_id, detail)
    SELECT (r->>1)::timestamptz, r->>2, r->>3, r->>4, (r->>0)::uuid, (r->>5)::uuid, r->9
    FROM jsonb_array_elements(rows->'insert_event') WITH ORDINALITY AS e(r, n) ORDER BY n;
END
$$;
