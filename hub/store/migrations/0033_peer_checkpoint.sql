-- Issue 20 ("a peer that comes back with a rewritten history is refused"): the largest checkpoint of a
-- peer hub's audit log this hub has seen (the compact JWS the peer signed, from the log proofs its
-- vouching feed carries). `hub peers sync` takes a later feed only if the peer's log extends this one
-- (an RFC 9162 consistency proof from the peer), and then keeps the newer head.
ALTER TABLE participants ADD COLUMN peer_checkpoint text;
ALTER TABLE participants ADD CONSTRAINT participants_peer_checkpoint_check
    CHECK (peer_checkpoint IS NULL OR kind = 'hub');
