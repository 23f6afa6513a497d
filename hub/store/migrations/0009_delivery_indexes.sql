-- Indexes for the delivery worker's questions per destination, so that they cost the same with ten or a
-- million deliveries waiting: the oldest claimable delivery of a destination, and its leases in flight.
CREATE INDEX deliveries_push_pending_idx ON deliveries (recipient_id, seq)
    WHERE state = 'pending' AND channel = 'push';
CREATE INDEX deliveries_in_flight_idx ON deliveries (recipient_id, lease_expires_at)
    WHERE state = 'in_flight';
