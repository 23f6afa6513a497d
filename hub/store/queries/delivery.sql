-- name: due_destinations
-- Destinations with a delivery that may be claimed now (pending and due, or in flight with an expired
-- lease), not parked, not backing off and with a free in-flight slot ($3 is the cap), the longest-waiting
-- first: a destination at its cap must not crowd out one that could be served. It walks the destinations
-- (few) and asks each one's indexes, so its cost does not grow with the number of deliveries waiting.
SELECT t.participant_id AS recipient_id
FROM destinations t
CROSS JOIN LATERAL (
    SELECT least(
        (SELECT d.seq FROM deliveries d  -- row comparisons and this order: see claim_deliveries
         WHERE (d.recipient_id, d.seq) > (t.participant_id, 0)
           AND (d.recipient_id, d.seq) <= (t.participant_id, 9223372036854775807)
           AND d.state = 'pending' AND d.channel = 'push' AND d.due_at <= $1
         ORDER BY d.recipient_id, d.seq LIMIT 1),
        (SELECT min(d.seq) FROM deliveries d
         WHERE d.recipient_id = t.participant_id AND d.state = 'in_flight' AND d.lease_expires_at <= $1)
    ) AS oldest
) w
WHERE t.parked_at IS NULL
  AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= $1)
  AND w.oldest IS NOT NULL
  AND (SELECT count(*) FROM deliveries x
       WHERE x.recipient_id = t.participant_id AND x.state = 'in_flight' AND x.lease_expires_at > $1) < $3
ORDER BY w.oldest
LIMIT $2;

-- name: lock_destination
-- Claims for one destination run one at a time (so the in-flight cap holds across processes); a
-- process that finds it locked moves on.
SELECT participant_id FROM destinations
WHERE participant_id = $1 AND parked_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
FOR UPDATE SKIP LOCKED;

-- name: claim_deliveries
-- One statement: pick claimable deliveries of a destination up to its free in-flight slots ($6 is the
-- cap) and the worker's free capacity ($7), lease them and return what a worker needs to deliver them.
-- An expired lease is claimable again: recovery.
WITH busy AS (
    SELECT count(*) AS n FROM deliveries
    WHERE recipient_id = $1 AND state = 'in_flight' AND lease_expires_at > $2
), slots AS (
    SELECT greatest(0, least($7::int, $6::int - (SELECT n FROM busy))) AS n
), due AS (
    -- The row comparisons (rather than recipient_id = $1) keep the planner on deliveries_push_pending_idx:
    -- with the recipient fixed it would walk the primary key in seq order instead, through every delivery
    -- already made, a cost that grows with the hub's history.
    SELECT seq FROM deliveries
    WHERE (recipient_id, seq) > ($1, 0) AND (recipient_id, seq) <= ($1, 9223372036854775807)
      AND channel = 'push' AND state = 'pending' AND due_at <= $2
    ORDER BY recipient_id, seq
    LIMIT (SELECT n FROM slots)
    FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT seq FROM deliveries
    WHERE recipient_id = $1 AND channel = 'push' AND state = 'in_flight' AND lease_expires_at <= $2
    ORDER BY seq
    LIMIT (SELECT n FROM slots)
    FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT seq FROM (SELECT seq FROM due UNION ALL SELECT seq FROM expired) candidates
    ORDER BY seq
    LIMIT (SELECT n FROM slots)
)
UPDATE deliveries d
SET state = 'in_flight', lease_token = $3, leased_by = $4, lease_expires_at = $2 + $5::interval,
    attempts = d.attempts + 1, first_attempt_at = coalesce(d.first_attempt_at, $2), last_attempt_at = $2
FROM messages m, participants p
WHERE d.seq IN (SELECT seq FROM picked) AND m.id = d.message_id AND p.id = d.recipient_id
RETURNING d.seq, d.message_id, d.recipient_id, d.adapter, d.attempts, d.first_attempt_at, d.lease_token,
          m.case_id, m.sender_id, m.message_type, m.version, m.accepted_at, m.payload_sha256, m.signed_form,
          m.receipt,
          -- a peer hub's participant is reached at its home hub's endpoint (adapter `hub`)
          coalesce(p.endpoint, (SELECT h.endpoint FROM participants h WHERE h.id = p.home_hub)) AS endpoint,
          p.adapter_config, m.form_encrypted, d.clocks,
          (SELECT k.wrapped_key FROM case_keys k WHERE k.case_id = m.case_id) AS wrapped_key;

-- name: finish_delivered
-- A successful push in one round trip: the delivery done, its attempt recorded, its destination's
-- failure count reset, and the recipient's party row locked and, for a referral ($11), moved to $10 when
-- its state is one of $12 (the moves hub.core.case_state allows; $13: the case); nothing (no row) if the lease was
-- lost. $6..$9: the attempt's number, worker, start and detail. Returns the held clocks, the recipient's
-- state before, and the state it moved to (NULL: no move).
WITH done AS (
    UPDATE deliveries
    SET state = 'delivered', delivered_at = $3, evidence = $4, last_status = $5, last_error = NULL,
        lease_token = NULL, lease_expires_at = NULL, due_at = NULL
    WHERE seq = $1 AND lease_token = $2
    RETURNING seq, clocks, recipient_id
), attempt AS (
    INSERT INTO delivery_attempts (delivery_seq, attempt, worker, started_at, finished_at, verdict, http_status, detail)
    SELECT seq, $6, $7, $8, $3, 'delivered', $5, $9 FROM done
), destination AS (
    -- Only when there is something to reset, or the last success is a second old: every push of a
    -- destination updating its one row would make them (and intake) queue on that row's lock.
    UPDATE destinations
    SET consecutive_failures = 0, consecutive_refusals = 0, next_attempt_at = NULL, last_success_at = $3
    WHERE participant_id = (SELECT recipient_id FROM done)
      AND (consecutive_failures <> 0 OR consecutive_refusals <> 0 OR next_attempt_at IS NOT NULL
           OR last_success_at IS NULL
           OR last_success_at < $3 - interval '1 second')
), before AS (
    -- Read (and locked) before `moved` changes it: `moved` reads this, so it runs first.
    SELECT cp.case_id, cp.participant_id, cp.state
    FROM case_parties cp
    WHERE cp.case_id = $13 AND cp.participant_id = (SELECT recipient_id FROM done) AND cp.role = 'recipient'
    FOR UPDATE
), moved AS (
    UPDATE case_parties cp SET state = $10, state_changed_at = $3
    FROM before
    WHERE $11 AND cp.case_id = before.case_id AND cp.participant_id = before.participant_id
      AND cp.role = 'recipient' AND before.state = ANY($12::text[])
    RETURNING cp.state
)
SELECT done.seq, done.clocks, (SELECT state FROM before) AS party_state, (SELECT state FROM moved) AS moved_to
FROM done;

-- name: finish_retry
UPDATE deliveries
SET state = 'pending', due_at = $3, last_status = $4, last_error = $5, lease_token = NULL, lease_expires_at = NULL
WHERE seq = $1 AND lease_token = $2
RETURNING seq;

-- name: finish_dead
UPDATE deliveries
SET state = 'dead', dead_at = $3, dead_reason = $4, last_status = $5, last_error = $4,
    lease_token = NULL, lease_expires_at = NULL, due_at = NULL
WHERE seq = $1 AND lease_token = $2
RETURNING seq;

-- name: insert_attempt
INSERT INTO delivery_attempts (delivery_seq, attempt, worker, started_at, finished_at, verdict, http_status, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: count_destination_failure
UPDATE destinations SET consecutive_failures = consecutive_failures + 1, last_failure_at = $2
WHERE participant_id = $1
RETURNING consecutive_failures;

-- name: count_destination_refusal
-- A refusal (401/403) is a failure too (it backs off like one) and is counted since the last success.
UPDATE destinations
SET consecutive_failures = consecutive_failures + 1, consecutive_refusals = consecutive_refusals + 1,
    last_failure_at = $2
WHERE participant_id = $1
RETURNING consecutive_failures, consecutive_refusals;

-- name: hold_parked_deliveries
-- Push deliveries waiting on a parked destination ($1: that one; NULL: every parked one) not yet shown
-- as held on their case's timeline: marked with the destination's parked_at and returned for their
-- `delivery.parked` events. A delivery queued while its destination is parked is found by a later call.
UPDATE deliveries d SET held_since = t.parked_at
FROM destinations t, messages m
WHERE t.parked_at IS NOT NULL AND ($1::text IS NULL OR t.participant_id = $1)
  AND d.recipient_id = t.participant_id AND d.channel = 'push' AND d.state IN ('pending', 'in_flight')
  AND d.held_since IS NULL AND m.id = d.message_id
RETURNING d.message_id, d.recipient_id, m.case_id, t.parked_reason, t.consecutive_refusals;

-- name: release_held_deliveries
-- The destination resumes: its held deliveries are no longer held; those still waiting get a
-- `delivery.unparked` event.
UPDATE deliveries d SET held_since = NULL
FROM messages m
WHERE d.recipient_id = $1 AND d.held_since IS NOT NULL AND m.id = d.message_id
RETURNING d.message_id, d.recipient_id, d.state, m.case_id;

-- name: back_off_destination
-- Back off to the later of the current wait and this one: concurrent failures never shorten a wait.
UPDATE destinations SET next_attempt_at = greatest(coalesce(next_attempt_at, $2), $2 + $3::interval)
WHERE participant_id = $1;

-- name: park_destination
UPDATE destinations SET parked_at = $2, parked_reason = $3, last_failure_at = $2
WHERE participant_id = $1 AND parked_at IS NULL;

-- name: unpark_destination
UPDATE destinations
SET parked_at = NULL, parked_reason = NULL, consecutive_failures = 0, consecutive_refusals = 0,
    next_attempt_at = NULL
WHERE participant_id = $1
RETURNING participant_id;

-- name: list_destinations
SELECT t.participant_id, t.consecutive_failures, t.consecutive_refusals, t.next_attempt_at, t.parked_at,
       t.parked_reason,
       t.last_success_at, t.last_failure_at,
       count(d.seq) FILTER (WHERE d.state = 'pending') AS pending,
       count(d.seq) FILTER (WHERE d.state = 'in_flight') AS in_flight,
       count(d.seq) FILTER (WHERE d.state = 'dead') AS dead
FROM destinations t LEFT JOIN deliveries d ON d.recipient_id = t.participant_id AND d.channel = 'push'
GROUP BY t.participant_id ORDER BY t.participant_id;

-- name: list_deliveries
SELECT d.seq, d.message_id, m.case_id, m.message_type, d.recipient_id, d.channel, d.state, d.attempts,
       d.created_at, d.due_at, d.delivered_at, d.retrieved_at, d.dead_at, d.dead_reason, d.last_status, d.last_error
FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE ($1::text IS NULL OR d.state = $1) AND ($2::text IS NULL OR d.recipient_id = $2) AND d.seq > $3
ORDER BY d.seq
LIMIT $4;

-- name: get_delivery
SELECT d.seq, d.message_id, m.case_id, m.message_type, d.recipient_id, d.channel, d.adapter, d.state,
       d.attempts, d.created_at, d.due_at, d.first_attempt_at, d.last_attempt_at, d.delivered_at,
       d.retrieved_at, d.dead_at, d.dead_reason, d.last_status, d.last_error, d.evidence
FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE d.seq = $1;

-- name: delivery_attempts
SELECT attempt, worker, started_at, finished_at, verdict, http_status, detail
FROM delivery_attempts WHERE delivery_seq = $1 ORDER BY id;

-- name: requeue_dead
-- A fresh retry budget for dead deliveries, due now.
UPDATE deliveries d
SET state = 'pending', due_at = $2, attempts = 0, first_attempt_at = NULL, dead_at = NULL, dead_reason = NULL
FROM messages m
WHERE d.seq = ANY($1::bigint[]) AND d.state = 'dead' AND m.id = d.message_id
RETURNING d.seq, d.message_id, d.recipient_id, m.case_id;

-- name: dead_deliveries
SELECT seq FROM deliveries WHERE state = 'dead' AND ($1::text IS NULL OR recipient_id = $1) ORDER BY seq;

-- name: withhold_withdrawn
-- The case's deliveries not yet made to recipients it is withdrawn from (pull not yet taken, push not
-- yet attempted) are never made; the withdrawal itself ($3) is delivered. They end `purged`, as when the
-- case is purged: the withdrawal asks for the data's deletion, and it is no delivery failure.
UPDATE deliveries d SET state = 'purged', due_at = NULL
FROM messages m
WHERE m.id = d.message_id AND m.case_id = $1 AND d.recipient_id = ANY($2::text[])
  AND d.state = 'pending' AND d.message_id <> $3
RETURNING d.message_id, d.recipient_id;

-- name: claim_park_notices
-- Parked destinations whose recipient was not yet told of this parking (one notice per parked_at):
-- marked as told and returned with the recipient's contact, once, whichever process asks first.
UPDATE destinations t SET park_notice_for = t.parked_at
FROM participants p
WHERE t.parked_at IS NOT NULL AND t.park_notice_for IS DISTINCT FROM t.parked_at AND p.id = t.participant_id
RETURNING t.participant_id, t.parked_at, t.parked_reason, t.consecutive_refusals, p.contact_email,
          p.adapter_config,
          (SELECT count(*) FROM deliveries d
           WHERE d.recipient_id = t.participant_id AND d.channel = 'push'
             AND d.state IN ('pending', 'in_flight')) AS held;

-- name: release_park_notice
-- The notice could not be sent now: a later round tries again (unless the parking changed meanwhile).
UPDATE destinations SET park_notice_for = NULL WHERE participant_id = $1 AND park_notice_for = $2;

-- name: delivered_before
-- The case's earlier messages delivered to this recipient, oldest first (an e-mail notice threads
-- under them).
SELECT d.message_id FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE m.case_id = $1 AND d.recipient_id = $2 AND d.message_id <> $3 AND d.state = 'delivered'
ORDER BY d.seq;
