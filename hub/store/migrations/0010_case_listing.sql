-- The case list pages newest first with a keyset on (opened_at, id). A participant's cases are found
-- through its party rows, so each carries its case's opening time: a participant's page is then read
-- from one index in order and stops at the page size, whether the hub holds ten thousand cases or a
-- million. The operator's list (every case) reads the cases table's own index in the same order.
ALTER TABLE case_parties ADD COLUMN case_opened_at timestamptz;
UPDATE case_parties cp SET case_opened_at = c.opened_at FROM cases c WHERE c.id = cp.case_id;
ALTER TABLE case_parties ALTER COLUMN case_opened_at SET NOT NULL;
CREATE INDEX case_parties_listing_idx ON case_parties (participant_id, case_opened_at DESC, case_id DESC);
CREATE INDEX cases_listing_idx ON cases (opened_at DESC, id DESC);
