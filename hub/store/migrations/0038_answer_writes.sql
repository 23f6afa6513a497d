-- Issue 21: an answer's writes in the batch's one statement. An answer (acknowledgement, status update:
-- any message that does not open a case) updated rows whose state the statement must check, so it sent
-- its own statements; now two rules are functions, each the one home of its rule, called by its named
-- query (the per-row path) and by hub_record_rows for its rows of that kind (a batch):
--
-- hub_set_party_state: a recipient's move from the state admission saw ($3) to the next. The batch's
--   transaction holds the case's party rows locked since it read them (batch_snapshot), so the state
--   holds; if it does not, the function raises, the batch is undone and each message retried alone.
-- hub_meet_deadlines: an answer's clocks met or answered late (the rule meet_deadlines had; its
--   queueing for a peer hub's report stays in it). The timeline entries of the clocks it changes depend
--   on what it finds, so intake makes them beforehand for each clock the answer could change (read in the
--   batch's snapshot), each marked 'outcome:id' in its 11th element, and hub_record_rows writes those
--   whose clock changed so, in their place among the batch's entries; a clock changed with no entry made
--   for it raises (the batch is then retried alone).
--
-- hub_record_rows takes the two new row kinds: meet_deadlines after the messages (met_by names the
-- answer) and before the clocks the batch starts, set_party_state after the new parties; the rest of the
-- function is as migration 0034 wrote it.

CREATE FUNCTION hub_set_party_state(
    p_case uuid, p_participant text, p_from text, p_to text, p_at timestamptz
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_parties SET state = p_to, state_changed_at = p_at
    WHERE case_id = p_case AND participant_id = p_participant AND state = p_from;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hub_set_party_state: party % of case % is not in state %', p_participant, p_case, p_from
            USING ERRCODE = 'P0001';
    END IF;
END
$$;

CREATE FUNCTION hub_meet_deadlines(
    p_case uuid, p_participant text, p_kinds text[], p_at timestamptz, p_message uuid, p_answers uuid
) RETURNS TABLE (outcome text, id bigint, kind text, rule_id text, due_at timestamptz)
LANGUAGE sql AS $$
    WITH answered AS (
        SELECT d.id FROM deadlines d
        WHERE d.case_id = $1 AND d.recipient_id = $2 AND d.kind = ANY($3)
          AND ($6 IS NULL OR d.message_id = $6 OR NOT EXISTS (
                SELECT 1 FROM deadlines a WHERE a.case_id = $1 AND a.recipient_id = $2 AND a.message_id = $6
                  AND a.kind = ANY($3)))
    ), met AS (
        UPDATE deadlines SET state = 'met', met_at = $4, met_by = $5, next_fire_at = NULL
        WHERE deadlines.id IN (SELECT answered.id FROM answered) AND state = 'open'
        RETURNING deadlines.id, deadlines.kind, deadlines.rule_id, deadlines.due_at
    ), late AS (
        UPDATE deadlines SET answered_late_at = $4, met_by = $5
        WHERE deadlines.id IN (SELECT answered.id FROM answered) AND state = 'breached'
          AND answered_late_at IS NULL
        RETURNING deadlines.id, deadlines.kind, deadlines.rule_id, deadlines.due_at
    )
    SELECT c.outcome, c.id, c.kind, c.rule_id, c.due_at
    FROM (SELECT 'met' AS outcome, met.id, met.kind, met.rule_id, met.due_at FROM met
          UNION ALL
          SELECT 'answered-late', late.id, late.kind, late.rule_id, late.due_at FROM late) c
    -- each clock's end queued for a peer hub's report where that applies (hub_queue_clock_report)
    CROSS JOIN LATERAL hub_queue_clock_report(c.id, c.outcome, $4, $5, NULL) AS queued
    ORDER BY 1 DESC, 2
$$;

CREATE OR REPLACE FUNCTION hub_record_rows(rows jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    pushed text[];
    pulled text[];
    one jsonb;
    changed text[] := '{}';  -- 'outcome:id' of each clock met or answered late by meet_deadlines
    unwritten text;
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

    -- meet_deadlines: each answer's clocks met or answered late, in order (hub_meet_deadlines).
    FOR one IN SELECT value FROM jsonb_array_elements(rows->'meet_deadlines') WITH ORDINALITY AS e(value, n)
             ORDER BY n LOOP
        changed := changed || ARRAY(
            SELECT m.outcome || ':' || m.id
            FROM hub_meet_deadlines((one->>0)::uuid, one->>1, hub_text_array(one->2),
                                    (one->>3)::timestamptz, (one->>4)::uuid, (one->>5)::uuid) AS m);
    END LOOP;
    SELECT c INTO unwritten FROM unnest(changed) AS c
    WHERE c NOT IN (SELECT e.r->>10 FROM jsonb_array_elements(rows->'insert_event') AS e(r)
                    WHERE e.r->>10 IS NOT NULL)
    LIMIT 1;
    IF unwritten IS NOT NULL THEN
        RAISE EXCEPTION 'hub_record_rows: clock % changed with no timeline entry made for it', unwritten
            USING ERRCODE = 'P0001';
    END IF;

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

    -- insert_url_digests: a takedown request's content-URL digests (hub/store/queries/content_urls.sql).
    INSERT INTO content_url_digests (case_id, message_id, digest)
    SELECT (r->>0)::uuid, (r->>1)::uuid, decode(d, 'hex')
    FROM jsonb_array_elements(rows->'insert_url_digests') WITH ORDINALITY AS e(r, n),
         unnest(hub_text_array(r->2)) WITH ORDINALITY AS u(d, k)
    ORDER BY n, k
    ON CONFLICT DO NOTHING;

    -- insert_party
    INSERT INTO case_parties (case_id, participant_id, role, state, state_changed_at, added_by, added_at,
                              case_opened_at, sees_parts)
    SELECT (r->>0)::uuid, r->>1, r->>2, r->>3, CASE WHEN r->>3 IS NULL THEN NULL ELSE (r->>5)::timestamptz END,
           r->>4, (r->>5)::timestamptz, (SELECT c.opened_at FROM cases c WHERE c.id = (r->>0)::uuid),
           hub_text_array(r->6)
    FROM jsonb_array_elements(rows->'insert_party') WITH ORDINALITY AS e(r, n) ORDER BY n
    ON CONFLICT (case_id, participant_id) DO NOTHING;

    -- set_party_state: each recipient's move, in order, from the state admission saw (hub_set_party_state).
    FOR one IN SELECT value FROM jsonb_array_elements(rows->'set_party_state') WITH ORDINALITY AS e(value, n)
             ORDER BY n LOOP
        PERFORM hub_set_party_state((one->>0)::uuid, one->>1, one->>2, one->>3, (one->>4)::timestamptz);
    END LOOP;

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
    INSERT INTO destinations (participant_id, name)
    SELECT x, '' FROM unnest(pushed) AS x
    WHERE NOT EXISTS (SELECT 1 FROM destinations t WHERE t.participant_id = x AND t.name = '')
    ON CONFLICT (participant_id, name) DO NOTHING;
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

    -- insert_event: the timeline row and the same fact in the tamper-evident log; an entry made for a
    -- clock's change (its 11th element) only when meet_deadlines changed that clock so.
    INSERT INTO case_events (case_id, occurred_at, event, actor, subject, message_id, from_state, to_state,
                             detail)
    SELECT (e.r->>0)::uuid, (e.r->>1)::timestamptz, e.r->>2, e.r->>3, e.r->>4, (e.r->>5)::uuid, e.r->>6,
           e.r->>7, e.r->8
    FROM jsonb_array_elements(rows->'insert_event') WITH ORDINALITY AS e(r, n)
    WHERE e.r->>10 IS NULL OR e.r->>10 = ANY (changed)
    ORDER BY n;
    INSERT INTO audit_entries (recorded_at, event, actor, subject, case_id, message_id, detail)
    SELECT (e.r->>1)::timestamptz, e.r->>2, e.r->>3, e.r->>4, (e.r->>0)::uuid, (e.r->>5)::uuid, e.r->9
    FROM jsonb_array_elements(rows->'insert_event') WITH ORDINALITY AS e(r, n)
    WHERE e.r->>10 IS NULL OR e.r->>10 = ANY (changed)
    ORDER BY n;
END
$$;
