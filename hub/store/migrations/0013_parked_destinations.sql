-- Issue 16, finding 9: a destination that refuses us (401/403) is retried with backoff a few times
-- before it is parked (hub.core.retry RetryPolicy.park_after), and parking is never silent.
-- consecutive_refusals: refusals since the destination's last success (reset by a success or an unpark).
-- held_since: set on a push delivery when a `delivery.parked` event was written for it on its case's
-- timeline (the destination's parked_at), cleared, with a `delivery.unparked` event, when it resumes.
ALTER TABLE destinations
    ADD COLUMN consecutive_refusals integer NOT NULL DEFAULT 0 CHECK (consecutive_refusals >= 0);
ALTER TABLE deliveries
    ADD COLUMN held_since timestamptz;
CREATE INDEX deliveries_held_idx ON deliveries (recipient_id) WHERE held_since IS NOT NULL;
