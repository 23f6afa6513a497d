-- Issue 20 ("a peer that comes back with a rewritten history is refused"): set when `hub peers sync`
-- finds that the peer's log no longer extends the head this hub kept (participants.peer_checkpoint).
-- While it is set, the peer's forwardings are refused (not-a-peer); the operator clears it, after
-- checking with the peer's operator out of band, by `hub peers sync PEER --accept-rewritten-log`.
ALTER TABLE participants ADD COLUMN peer_log_alarm text;
ALTER TABLE participants ADD CONSTRAINT participants_peer_log_alarm_check
    CHECK (peer_log_alarm IS NULL OR kind = 'hub');
