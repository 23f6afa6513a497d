-- name: due_destinations
-- Destinations (participant, name) with claimable work and a free slot under $3, longest-waiting first
-- (migration 0030).
SELECT recipient_id, name FROM hub_due_destinations($1, $2, $3);

-- name: claim_deliveries
-- One destination's claim ($1 participant, $8 the destination's name, $2 now, $3 lease token, $4 worker,
-- $5 lease, $6 in-flight cap, $7 the worker's free capacity): hub_claim_for, migration 0030.
SELECT * FROM hub_claim_for($1, $8, $2, $3, $4, $5, $6, $7);

-- name: claim_due_deliveries
-- A round's claim across every due destination ($1 now, $2 lease token, $3 worker, $4 lease, $5 in-flight
-- cap per destination, $6 the worker's free capacity, $7 how many destinations, $8 the hub's timeline
-- actor), held deliveries of parked destinations shown first: hub_claim_due_deliveries, migration 0023.
SELECT * FROM hub_claim_due_deliveries($1, $2, $3, $4, $5, $6, $7, $8);

-- name: finish_pushes
-- Successful pushes recorded, with the rows each writes once done ($1: JSON, see deliveries.finish_pushes):
-- hub_finish_pushes, migration 0023.
SELECT seq, recorded FROM hub_finish_pushes($1::text::jsonb);

-- name: finish_failures
-- Failed pushes recorded (retried later, refused, dead-lettered), with what each did to its destination
-- ($1: JSON, see delivery_failures.finish_failures): hub_finish_failures, migration 0027.
SELECT seq, recorded, failures_now, refusals_now, parked, wait FROM hub_finish_failures($1::text::jsonb);

-- name: finish_and_claim
-- A batch of finished pushes ($1 successes, $2 failures: JSON, see finish_and_claim.finish_and_claim)
-- recorded, then the freed slots claimed for the worker as claim_due_deliveries does ($3 now, $4 lease
-- token, $5 worker, $6 lease, $7 in-flight cap per destination, $8 the worker's free capacity, 0: no
-- claim, $9 how many destinations, $10 the hub's timeline actor): hub_finish_and_claim, migration 0041.
SELECT * FROM hub_finish_and_claim($1::text::jsonb, $2::text::jsonb, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: hold_parked
-- Deliveries of parked destinations ($2, $4: that participant's destination of that name; NULL: every
-- one) shown held on their timelines, by $3 (the hub): hub_hold_parked, migration 0030. Returns how many.
SELECT hub_hold_parked($1, $2, $4, $3);

-- name: release_held_deliveries
-- The destination resumes: its held deliveries (a peer hub's, those to its participants: migration 0032)
-- are no longer held; those still waiting get a `delivery.unparked` event.
UPDATE deliveries d SET held_since = NULL
FROM messages m
WHERE (d.recipient_id = $1 AND d.destination = $2
       OR $2 = '' AND d.destination = ''
          AND d.recipient_id IN (SELECT q.id FROM participants q WHERE q.home_hub = $1))
  AND d.held_since IS NOT NULL AND m.id = d.message_id
RETURNING d.message_id, d.recipient_id, d.state, m.case_id;

-- name: unpark_destination
UPDATE destinations
SET parked_at = NULL, parked_reason = NULL, consecutive_failures = 0, consecutive_refusals = 0,
    next_attempt_at = NULL
WHERE participant_id = $1 AND name = $2
RETURNING participant_id;

-- name: list_destinations
-- A peer hub's own row (name '') counts the deliveries to its participants (migration 0032).
SELECT t.participant_id, t.name, t.consecutive_failures, t.consecutive_refusals, t.next_attempt_at, t.parked_at,
       t.parked_reason,
       t.last_success_at, t.last_failure_at,
       count(d.seq) FILTER (WHERE d.state = 'pending') AS pending,
       count(d.seq) FILTER (WHERE d.state = 'in_flight') AS in_flight,
       count(d.seq) FILTER (WHERE d.state = 'dead') AS dead
FROM destinations t
LEFT JOIN deliveries d
    ON (d.recipient_id = t.participant_id AND d.destination = t.name
        OR t.name = '' AND d.destination = ''
           AND d.recipient_id IN (SELECT q.id FROM participants q WHERE q.home_hub = t.participant_id))
   AND d.channel = 'push'
GROUP BY t.participant_id, t.name ORDER BY t.participant_id, t.name;

-- name: list_deliveries
SELECT d.seq, d.message_id, m.case_id, m.message_type, d.recipient_id, d.destination, d.channel, d.state,
       d.attempts,
       d.created_at, d.due_at, d.delivered_at, d.retrieved_at, d.dead_at, d.dead_reason, d.last_status, d.last_error
FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE ($1::text IS NULL OR d.state = $1) AND ($2::text IS NULL OR d.recipient_id = $2) AND d.seq > $3
ORDER BY d.seq
LIMIT $4;

-- name: get_delivery
SELECT d.seq, d.message_id, m.case_id, m.message_type, d.recipient_id, d.destination, d.channel, d.adapter,
       d.state,
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
RETURNING t.participant_id, t.name, t.parked_at, t.parked_reason, t.consecutive_refusals, p.contact_email,
          p.adapter_config,
          (SELECT count(*) FROM deliveries d
           WHERE d.recipient_id = t.participant_id AND d.destination = t.name AND d.channel = 'push'
             AND d.state IN ('pending', 'in_flight')) AS held;

-- name: release_park_notice
-- The notice could not be sent now: a later round tries again (unless the parking changed meanwhile).
UPDATE destinations SET park_notice_for = NULL
WHERE participant_id = $1 AND name = $3 AND park_notice_for = $2;

-- name: delivered_before
-- The case's earlier messages delivered to this recipient's destination $4, oldest first (an e-mail
-- notice threads under them).
SELECT d.message_id FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE m.case_id = $1 AND d.recipient_id = $2 AND d.destination = $4 AND d.message_id <> $3
  AND d.state = 'delivered'
ORDER BY d.seq;
