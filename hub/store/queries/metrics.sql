-- The gauges GET /metrics reads when scraped: one cheap aggregate each, over the whole hub (the metrics
-- are the operator's). Identifiers of organisations, states, channels and counts only.

-- name: metrics_deliveries
SELECT state, channel, count(*) AS n FROM deliveries GROUP BY state, channel;

-- name: metrics_push_queues
-- Push deliveries waiting to be sent, per destination.
SELECT recipient_id, count(*) AS n FROM deliveries
WHERE state = 'pending' AND channel = 'push' GROUP BY recipient_id;

-- name: metrics_parked_destinations
-- Parked push destinations and how many deliveries each holds (a peer hub's: those to its participants,
-- migration 0032).
SELECT t.participant_id, count(d.seq) AS n FROM destinations t
LEFT JOIN deliveries d ON (d.recipient_id = t.participant_id
                           OR t.name = '' AND d.destination = ''
                              AND d.recipient_id IN (SELECT q.id FROM participants q
                                                     WHERE q.home_hub = t.participant_id))
                      AND d.channel = 'push' AND d.state IN ('pending', 'in_flight')
WHERE t.parked_at IS NOT NULL GROUP BY t.participant_id;

-- name: metrics_deadlines
-- Open and breached clocks, and how many are overdue at $1: hub/core/overdue.py `is_overdue` (still open
-- at or after its due time, or breached and not answered late), as the case page and the case list
-- count it; tests/test_case_rules_differential.py feeds both the same clocks. An aggregate: one row.
SELECT count(*) FILTER (WHERE state = 'open') AS open,
       count(*) FILTER (WHERE state = 'breached') AS breached,
       count(*) FILTER (WHERE (state = 'breached' AND answered_late_at IS NULL)
                           OR (state = 'open' AND due_at <= $1)) AS overdue
FROM deadlines WHERE state IN ('open', 'breached');

-- name: metrics_escalations
SELECT count(*) FROM messages WHERE message_type = 'escalation';

-- name: metrics_delivery_latency
-- Seconds from acceptance to delivery (push) or retrieval (pull), as cumulative buckets per channel;
-- the bounds are hub/store/metrics.py DELIVERY_BUCKETS, in seconds.
SELECT channel, count(*) AS n, coalesce(sum(s), 0) AS total,
       count(*) FILTER (WHERE s <= 1) AS b0, count(*) FILTER (WHERE s <= 5) AS b1,
       count(*) FILTER (WHERE s <= 30) AS b2, count(*) FILTER (WHERE s <= 60) AS b3,
       count(*) FILTER (WHERE s <= 300) AS b4, count(*) FILTER (WHERE s <= 900) AS b5,
       count(*) FILTER (WHERE s <= 3600) AS b6, count(*) FILTER (WHERE s <= 14400) AS b7,
       count(*) FILTER (WHERE s <= 86400) AS b8, count(*) FILTER (WHERE s <= 172800) AS b9
FROM (SELECT channel, extract(epoch FROM coalesce(delivered_at, retrieved_at) - created_at) AS s
      FROM deliveries WHERE coalesce(delivered_at, retrieved_at) IS NOT NULL) AS x
GROUP BY channel;
