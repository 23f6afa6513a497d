-- A delivery still pending when its case is purged can never be made: it ends `purged` (not dead, which
-- would count as a delivery failure in the statistics).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'retrieved', 'in_flight', 'delivered', 'dead', 'purged'));
