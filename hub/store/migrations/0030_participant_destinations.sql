-- Issue 19: a participant's further delivery destinations. A participant has its own destination (its
-- adapter, endpoint and configuration in `participants`: where its messages go and where the legal clock
-- starts) and may add more, each bound by its own signature (an `add-destination` binding,
-- hub/core/binding.py): e.g. a platform reading referrals by webhook also has their hashes banked into
-- its HMA. Each destination has its own deliveries (`deliveries.destination`, '' for the participant's
-- own), its own retries, back-off and parking (`destinations.name`) and its own delivery evidence; only
-- the participant's own destination moves the recipient's state and starts clocks.
CREATE TABLE participant_destinations (
    participant_id text NOT NULL REFERENCES participants (id),
    name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,40}$'),
    adapter text NOT NULL CHECK (adapter ~ '^[a-z][a-z0-9_-]{1,40}$'),
    endpoint text,
    adapter_config jsonb NOT NULL DEFAULT '{}'::jsonb,
    carries text[],  -- the message types it takes (its adapter's `carries`); NULL: every one
    binding text NOT NULL,  -- the participant's signed add-destination (or, once removed, remove-destination)
    bound_at timestamptz NOT NULL,  -- the binding's iat: a later binding of the same name must be newer
    added_at timestamptz NOT NULL,
    removed_at timestamptz,
    PRIMARY KEY (participant_id, name)
);

ALTER TABLE deliveries ADD COLUMN destination text NOT NULL DEFAULT '';
ALTER TABLE deliveries DROP CONSTRAINT deliveries_message_id_recipient_id_key;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_message_id_recipient_id_destination_key
    UNIQUE (message_id, recipient_id, destination);
DROP INDEX deliveries_push_pending_idx;
CREATE INDEX deliveries_push_pending_idx ON deliveries (recipient_id, destination, seq)
    WHERE state = 'pending' AND channel = 'push';
DROP INDEX deliveries_in_flight_idx;
CREATE INDEX deliveries_in_flight_idx ON deliveries (recipient_id, destination, lease_expires_at)
    WHERE state = 'in_flight';

ALTER TABLE destinations ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE destinations DROP CONSTRAINT destinations_pkey;
ALTER TABLE destinations ADD CONSTRAINT destinations_pkey PRIMARY KEY (participant_id, name);

-- A delivery to a participant's own destination brings one to each of its further destinations that
-- takes the message's type, due at once, holding no clock; their `destinations` rows are made and the
-- workers woken. One rule for every way a delivery is inserted (a message's, a batch's, the hub's own).
CREATE FUNCTION hub_further_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added integer;
BEGIN
    -- A statement-level trigger fires for an insert of no rows too, so its own insert below (of further
    -- destinations' deliveries only) would fire it again without end: nothing of the own kind, nothing to do.
    IF NOT EXISTS (SELECT 1 FROM inserted i WHERE i.destination = '')
       OR NOT EXISTS (SELECT 1 FROM participant_destinations pd WHERE pd.removed_at IS NULL) THEN
        RETURN NULL;
    END IF;
    WITH further AS (
        INSERT INTO deliveries (message_id, recipient_id, destination, created_at, channel, adapter, due_at)
        SELECT i.message_id, i.recipient_id, pd.name, i.created_at, 'push', pd.adapter, i.created_at
        FROM inserted i
        JOIN participant_destinations pd ON pd.participant_id = i.recipient_id AND pd.removed_at IS NULL
        JOIN messages m ON m.id = i.message_id
        WHERE i.destination = '' AND (pd.carries IS NULL OR m.message_type = ANY (pd.carries))
        ORDER BY i.seq, pd.name
        RETURNING recipient_id, destination
    ), made AS (
        INSERT INTO destinations (participant_id, name)
        SELECT DISTINCT f.recipient_id, f.destination FROM further f
        WHERE NOT EXISTS (SELECT 1 FROM destinations t
                          WHERE t.participant_id = f.recipient_id AND t.name = f.destination)
        ON CONFLICT (participant_id, name) DO NOTHING
    )
    SELECT count(*) INTO added FROM further;
    IF added > 0 THEN
        PERFORM pg_notify('hub_delivery', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER hub_further_deliveries AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION hub_further_deliveries();

-- Migration 0021's batch writer, its destination rows now per (participant, name): a message's
-- deliveries are to the recipients' own destinations (name ''); the trigger above adds the further ones.
CREATE OR REPLACE FUNCTION hub_record_rows(rows jsonb) RETURNS void LANGUAGE plpgsql AS $$
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

-- The delivery functions as migrations 0023, 0024, 0027 and 0028 left them, per destination (participant,
-- name) instead of per participant. A peer hub's own row (name '') still counts its participants'
-- failures (hub_destination_of): a further destination is never of a peer hub's participant.
DROP FUNCTION hub_claim_due_deliveries(timestamptz, uuid, text, interval, integer, integer, integer, text);
DROP FUNCTION hub_claim_for(text, timestamptz, uuid, text, interval, integer, integer);
DROP FUNCTION hub_due_destinations(timestamptz, integer, integer);
DROP FUNCTION hub_hold_parked(timestamptz, text, text);
DROP TYPE hub_claimed_delivery;

CREATE FUNCTION hub_due_destinations(p_at timestamptz, p_limit integer, p_cap integer)
RETURNS TABLE (recipient_id text, name text) LANGUAGE sql STABLE AS $$
    SELECT t.participant_id, t.name
    FROM destinations t
    CROSS JOIN LATERAL (
        SELECT least(
            (SELECT d.seq FROM deliveries d  -- row comparisons and this order: see hub_claim_for
             WHERE (d.recipient_id, d.destination, d.seq) > (t.participant_id, t.name, 0)
               AND (d.recipient_id, d.destination, d.seq) <= (t.participant_id, t.name, 9223372036854775807)
               AND d.state = 'pending' AND d.channel = 'push' AND d.due_at <= p_at
             ORDER BY d.recipient_id, d.destination, d.seq LIMIT 1),
            (SELECT min(d.seq) FROM deliveries d
             WHERE d.recipient_id = t.participant_id AND d.destination = t.name AND d.state = 'in_flight'
               AND d.lease_expires_at <= p_at)
        ) AS oldest
    ) w
    WHERE t.parked_at IS NULL
      AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= p_at)
      AND w.oldest IS NOT NULL
      AND NOT hub_peer_holds(t.participant_id, p_at)
      AND (SELECT count(*) FROM deliveries x
           WHERE x.recipient_id = t.participant_id AND x.destination = t.name AND x.state = 'in_flight'
             AND x.lease_expires_at > p_at)
          < p_cap
    ORDER BY w.oldest
    LIMIT p_limit
$$;

-- What a claim returns per delivery (hub/store/deliveries.ClaimedDelivery); `destination` last.
CREATE TYPE hub_claimed_delivery AS (
    seq bigint, message_id uuid, recipient_id text, adapter text, attempts integer,
    first_attempt_at timestamptz, lease_token uuid, case_id uuid, sender_id text, message_type text,
    version text, accepted_at timestamptz, payload_sha256 text, signed_form bytea, receipt text,
    endpoint text, adapter_config jsonb, form_encrypted boolean, clocks jsonb, wrapped_key bytea,
    destination text
);

-- One destination's claim, as in migration 0028; a further destination's endpoint and configuration are
-- its own (participant_destinations), the participant's own destination's those of its entry.
CREATE FUNCTION hub_claim_for(
    p_destination text, p_name text, p_at timestamptz, p_token uuid, p_worker text, p_lease interval, p_cap integer,
    p_free integer
) RETURNS SETOF hub_claimed_delivery LANGUAGE plpgsql AS $$
DECLARE
    peer text := (SELECT p.home_hub FROM participants p WHERE p.id = p_destination);
    free integer := p_free;
    failures integer;
BEGIN
    PERFORM 1 FROM destinations t
    WHERE t.participant_id = p_destination AND t.name = p_name AND t.parked_at IS NULL
      AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= p_at)
    FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF peer IS NOT NULL AND EXISTS (SELECT 1 FROM destinations t WHERE t.participant_id = peer AND t.name = '') THEN
        -- The peer's row is locked too, so claims for its participants run one at a time across
        -- processes; while it is known down, one forwarding to it is in flight at a time (the probe).
        SELECT t.consecutive_failures INTO failures FROM destinations t
        WHERE t.participant_id = peer AND t.name = '' AND t.parked_at IS NULL
          AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= p_at)
        FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        IF failures > 0 THEN
            free := least(free, greatest(0, 1 - hub_peer_in_flight(peer, p_at)));
        END IF;
    END IF;
    RETURN QUERY
    WITH busy AS (
        SELECT count(*) AS n FROM deliveries x
        WHERE x.recipient_id = p_destination AND x.destination = p_name AND x.state = 'in_flight'
          AND x.lease_expires_at > p_at
    ), slots AS (
        SELECT greatest(0, least(free, p_cap - (SELECT n FROM busy)::integer)) AS n
    ), due AS (
        -- The row comparisons (rather than recipient_id = ...) keep the planner on
        -- deliveries_push_pending_idx: with the recipient fixed it would walk the primary key in seq order
        -- instead, through every delivery already made, a cost that grows with the hub's history.
        SELECT x.seq FROM deliveries x
        WHERE (x.recipient_id, x.destination, x.seq) > (p_destination, p_name, 0)
          AND (x.recipient_id, x.destination, x.seq) <= (p_destination, p_name, 9223372036854775807)
          AND x.channel = 'push' AND x.state = 'pending' AND x.due_at <= p_at
        ORDER BY x.recipient_id, x.destination, x.seq
        LIMIT (SELECT n FROM slots)
        FOR UPDATE SKIP LOCKED
    ), expired AS (
        SELECT x.seq FROM deliveries x
        WHERE x.recipient_id = p_destination AND x.destination = p_name AND x.channel = 'push'
          AND x.state = 'in_flight'
          AND x.lease_expires_at <= p_at
        ORDER BY x.seq
        LIMIT (SELECT n FROM slots)
        FOR UPDATE SKIP LOCKED
    ), picked AS (
        SELECT c.seq FROM (SELECT seq FROM due UNION ALL SELECT seq FROM expired) c
        ORDER BY c.seq
        LIMIT (SELECT n FROM slots)
    ), claimed AS (
        UPDATE deliveries d
        SET state = 'in_flight', lease_token = p_token, leased_by = p_worker, lease_expires_at = p_at + p_lease,
            attempts = d.attempts + 1, first_attempt_at = coalesce(d.first_attempt_at, p_at),
            last_attempt_at = p_at
        FROM messages m, participants p
        WHERE d.seq IN (SELECT picked.seq FROM picked) AND m.id = d.message_id AND p.id = d.recipient_id
        RETURNING d.seq, d.message_id, d.recipient_id, d.adapter, d.attempts, d.first_attempt_at,
                  d.lease_token, m.case_id, m.sender_id, m.message_type, m.version, m.accepted_at,
                  m.payload_sha256, m.signed_form, m.receipt,
                  CASE WHEN d.destination = ''
                       THEN coalesce(p.endpoint, (SELECT h.endpoint FROM participants h WHERE h.id = p.home_hub))
                       ELSE (SELECT pd.endpoint FROM participant_destinations pd
                             WHERE pd.participant_id = d.recipient_id AND pd.name = d.destination) END,
                  CASE WHEN d.destination = '' THEN p.adapter_config
                       ELSE (SELECT pd.adapter_config FROM participant_destinations pd
                             WHERE pd.participant_id = d.recipient_id AND pd.name = d.destination) END,
                  m.form_encrypted, d.clocks,
                  (SELECT k.wrapped_key FROM case_keys k WHERE k.case_id = m.case_id) AS wrapped_key,
                  d.destination
    )
    SELECT * FROM claimed ORDER BY claimed.seq;
END
$$;

-- As in migration 0023, per destination (`p_destination` NULL: every parked one; `p_name` its name).
CREATE FUNCTION hub_hold_parked(p_at timestamptz, p_destination text, p_name text, p_actor text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    held jsonb;
BEGIN
    WITH marked AS (
        UPDATE deliveries d SET held_since = t.parked_at
        FROM destinations t, messages m
        WHERE t.parked_at IS NOT NULL
          AND (p_destination IS NULL OR (t.participant_id = p_destination AND t.name = p_name))
          AND d.recipient_id = t.participant_id AND d.destination = t.name AND d.channel = 'push'
          AND d.state IN ('pending', 'in_flight') AND d.held_since IS NULL AND m.id = d.message_id
        RETURNING d.seq, d.message_id, d.recipient_id, m.case_id,
                  CASE WHEN t.name = ''
                       THEN jsonb_build_object('reason', t.parked_reason, 'refusals', t.consecutive_refusals)
                       ELSE jsonb_build_object('reason', t.parked_reason, 'refusals', t.consecutive_refusals,
                                               'destination', t.name) END AS detail
    )
    SELECT jsonb_agg(jsonb_build_array(case_id, p_at, 'delivery.parked', p_actor, recipient_id, message_id,
                                       NULL, NULL, detail, detail) ORDER BY seq)
    INTO held FROM marked;
    IF held IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM hub_record_rows(jsonb_build_object('insert_event', held));
    RETURN jsonb_array_length(held);
END
$$;

CREATE FUNCTION hub_claim_due_deliveries(
    p_at timestamptz, p_token uuid, p_worker text, p_lease interval, p_cap integer, p_capacity integer,
    p_limit integer, p_actor text
) RETURNS SETOF hub_claimed_delivery LANGUAGE plpgsql AS $$
DECLARE
    due record;
    left_over integer := p_capacity;
    taken integer;
BEGIN
    PERFORM hub_hold_parked(p_at, NULL, NULL, p_actor);
    FOR due IN SELECT recipient_id, name FROM hub_due_destinations(p_at, p_limit, p_cap) LOOP
        EXIT WHEN left_over <= 0;
        RETURN QUERY
            SELECT * FROM hub_claim_for(due.recipient_id, due.name, p_at, p_token, p_worker, p_lease, p_cap,
                                        left_over);
        GET DIAGNOSTICS taken = ROW_COUNT;
        left_over := left_over - taken;
    END LOOP;
END
$$;

-- Successful pushes recorded, as in migration 0028; a destination's success resets its own row. Whether a
-- push moves the recipient's state is the caller's (`referral`: only a referral delivered to the
-- participant's own destination), as are the clocks it starts (none for a further destination).
CREATE OR REPLACE FUNCTION hub_finish_pushes(pushes jsonb) RETURNS TABLE (seq bigint, recorded boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    push jsonb;
    f jsonb;
    done_seq bigint;
    party_state text;
    moved_to text;
BEGIN
    FOR push IN SELECT value FROM jsonb_array_elements(pushes) WITH ORDINALITY AS e(value, n) ORDER BY n LOOP
        f := push->'finish';
        WITH done AS (
            UPDATE deliveries d
            SET state = 'delivered', delivered_at = (f->>'at')::timestamptz, evidence = f->>'evidence',
                last_status = (f->>'http_status')::integer, last_error = NULL, lease_token = NULL,
                lease_expires_at = NULL, due_at = NULL
            WHERE d.seq = (f->>'seq')::bigint AND d.lease_token = (f->>'lease_token')::uuid
            RETURNING d.seq, d.recipient_id, d.destination
        ), attempt AS (
            INSERT INTO delivery_attempts (delivery_seq, attempt, worker, started_at, finished_at, verdict,
                                           http_status, detail)
            SELECT done.seq, (f->>'attempt')::integer, f->>'worker', (f->>'started_at')::timestamptz,
                   (f->>'at')::timestamptz, 'delivered', (f->>'http_status')::integer, f->>'detail'
            FROM done
        ), destination AS (
            -- Only when there is something to reset, or the last success is a second old: every push of a
            -- destination updating its one row would make them (and intake) queue on that row's lock.
            UPDATE destinations t
            SET consecutive_failures = 0, consecutive_refusals = 0, next_attempt_at = NULL,
                last_success_at = (f->>'at')::timestamptz
            WHERE (t.participant_id, t.name) IN (SELECT done.recipient_id, done.destination FROM done
                                                 UNION SELECT hub_destination_of(done.recipient_id), ''
                                                 FROM done WHERE done.destination = '')
              AND (t.consecutive_failures <> 0 OR t.consecutive_refusals <> 0 OR t.next_attempt_at IS NOT NULL
                   OR t.last_success_at IS NULL
                   OR t.last_success_at < (f->>'at')::timestamptz - interval '1 second')
        ), before AS (
            -- Read (and locked) before `moved` changes it: `moved` reads this, so it runs first.
            SELECT cp.case_id, cp.participant_id, cp.state
            FROM case_parties cp
            WHERE cp.case_id = (f->>'case_id')::uuid AND cp.participant_id = (SELECT done.recipient_id FROM done)
              AND cp.role = 'recipient'
            FOR UPDATE
        ), moved AS (
            UPDATE case_parties cp SET state = f->>'to_state', state_changed_at = (f->>'at')::timestamptz
            FROM before
            WHERE (f->>'referral')::boolean AND cp.case_id = before.case_id
              AND cp.participant_id = before.participant_id AND cp.role = 'recipient'
              AND before.state = ANY (hub_text_array(f->'moves_from'))
            RETURNING cp.state
        )
        SELECT done.seq, (SELECT state FROM before), (SELECT state FROM moved)
        INTO done_seq, party_state, moved_to
        FROM done;
        IF done_seq IS NULL THEN
            seq := (f->>'seq')::bigint;
            recorded := false;
            RETURN NEXT;
            CONTINUE;
        END IF;
        PERFORM hub_record_rows(push->'told');
        IF moved_to IS NOT NULL THEN
            PERFORM hub_record_rows(push->'moved'->party_state);
        END IF;
        PERFORM hub_record_rows(coalesce(push->'clocks_when'->party_state, push->'clocks'));
        seq := done_seq;
        recorded := true;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Failed pushes recorded, as in migration 0028, each counted against its own destination (`destination`
-- of each failure: '' the recipient's own, counted against its peer hub as before; else a further one).
CREATE OR REPLACE FUNCTION hub_finish_failures(failures jsonb)
RETURNS TABLE (seq bigint, recorded boolean, failures_now integer, refusals_now integer, parked boolean,
               wait interval)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    item jsonb;
    f jsonb;
    d_seq bigint;
    d_at timestamptz;
    d_dest text;
    d_name text;  -- the destination's name: '' the recipient's own, else a further one's
    c_dest text;  -- the destination whose failures this one counts against
    c_name text;
    n_failures integer;
    n_refusals integer;
    do_park boolean;
    d_wait interval;
BEGIN
    FOR item IN SELECT value FROM jsonb_array_elements(failures) WITH ORDINALITY AS e(value, n) ORDER BY n LOOP
        f := item->'finish';
        d_seq := (f->>'seq')::bigint;
        d_at := (f->>'at')::timestamptz;
        d_dest := f->>'recipient_id';
        d_name := coalesce(f->>'destination', '');
        c_dest := CASE WHEN f->>'kind' = 'refused' OR d_name <> '' THEN d_dest ELSE hub_destination_of(d_dest) END;
        c_name := CASE WHEN c_dest = d_dest THEN d_name ELSE '' END;
        n_failures := NULL;
        n_refusals := NULL;
        do_park := false;
        d_wait := NULL;
        -- The lease first: a worker whose lease was taken over records and counts nothing.
        PERFORM 1 FROM deliveries d WHERE d.seq = d_seq AND d.lease_token = (f->>'lease_token')::uuid
        FOR UPDATE;
        IF NOT FOUND THEN
            seq := d_seq;
            recorded := false;
            failures_now := NULL;
            refusals_now := NULL;
            parked := false;
            wait := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF f->>'kind' = 'dead' THEN
            UPDATE deliveries d
            SET state = 'dead', dead_at = d_at, dead_reason = f->>'reason',
                last_status = (f->>'http_status')::integer, last_error = f->>'reason', lease_token = NULL,
                lease_expires_at = NULL, due_at = NULL
            WHERE d.seq = d_seq;
        ELSE
            IF f->>'kind' = 'refused' THEN
                -- A refusal (401/403) is a failure too (it backs off like one), counted since the last success.
                UPDATE destinations t
                SET consecutive_failures = t.consecutive_failures + 1,
                    consecutive_refusals = t.consecutive_refusals + 1, last_failure_at = d_at
                WHERE t.participant_id = d_dest AND t.name = d_name
                RETURNING t.consecutive_failures, t.consecutive_refusals INTO n_failures, n_refusals;
                n_refusals := coalesce(n_refusals, 1);
                do_park := (item->'parks'->>(least(n_refusals, jsonb_array_length(item->'parks')) - 1))::boolean;
            ELSE
                INSERT INTO destinations AS t (participant_id, name, consecutive_failures, last_failure_at)
                VALUES (c_dest, c_name, 1, d_at)
                ON CONFLICT (participant_id, name) DO UPDATE
                SET consecutive_failures = t.consecutive_failures + 1, last_failure_at = d_at
                RETURNING t.consecutive_failures INTO n_failures;
            END IF;
            n_failures := coalesce(n_failures, 1);
            IF NOT do_park THEN
                d_wait := make_interval(secs => (item->'waits'->>(
                    least(n_failures, jsonb_array_length(item->'waits')) - 1))::double precision);
            END IF;
            UPDATE deliveries d
            SET state = 'pending', due_at = d_at + coalesce(d_wait, interval '0'),
                last_status = (f->>'http_status')::integer, last_error = f->>'detail', lease_token = NULL,
                lease_expires_at = NULL
            WHERE d.seq = d_seq;
        END IF;
        INSERT INTO delivery_attempts (delivery_seq, attempt, worker, started_at, finished_at, verdict,
                                       http_status, detail)
        VALUES (d_seq, (f->>'attempt')::integer, f->>'worker', (f->>'started_at')::timestamptz, d_at,
                f->>'verdict', (f->>'http_status')::integer, f->>'detail');
        IF f->>'kind' = 'dead' AND (f->>'counts')::boolean THEN
            INSERT INTO destinations AS t (participant_id, name, consecutive_failures, last_failure_at)
            VALUES (c_dest, c_name, 1, d_at)
            ON CONFLICT (participant_id, name) DO UPDATE
            SET consecutive_failures = t.consecutive_failures + 1, last_failure_at = d_at
            RETURNING t.consecutive_failures INTO n_failures;
            IF jsonb_array_length(coalesce(item->'waits', '[]')) > 0 THEN
                d_wait := make_interval(secs => (item->'waits'->>(
                    least(coalesce(n_failures, 1), jsonb_array_length(item->'waits')) - 1))::double precision);
            END IF;
        END IF;
        IF do_park THEN
            UPDATE destinations t SET parked_at = d_at, parked_reason = f->>'detail', last_failure_at = d_at
            WHERE t.participant_id = d_dest AND t.name = d_name AND t.parked_at IS NULL;
            PERFORM hub_hold_parked(d_at, d_dest, d_name, f->>'actor');
        ELSIF d_wait IS NOT NULL THEN
            -- The later of the current wait and this one: concurrent failures never shorten a wait.
            UPDATE destinations t
            SET next_attempt_at = greatest(coalesce(t.next_attempt_at, d_at), d_at + d_wait)
            WHERE t.participant_id = c_dest AND t.name = c_name;
        END IF;
        IF f->>'kind' = 'dead' THEN
            PERFORM hub_record_rows(item->'dead');
        END IF;
        seq := d_seq;
        recorded := true;
        failures_now := n_failures;
        refusals_now := n_refusals;
        parked := do_park;
        wait := d_wait;
        RETURN NEXT;
    END LOOP;
END
$$;

-- The directory's entries of the audit log (migration 0018's partial index), with the destinations'.
DROP INDEX audit_entries_directory_idx;
CREATE INDEX audit_entries_directory_idx ON audit_entries (subject, id)
    WHERE event IN ('participant.added', 'participant.updated', 'participant.reset', 'key.added',
                    'key.revoked', 'key.bound', 'delivery.bound', 'destination.bound', 'destination.removed');
