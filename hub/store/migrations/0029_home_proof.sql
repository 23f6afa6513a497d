-- Issue 20 (docs/federation.md, section 3): a mirrored participant's keys are trusted by clients only
-- through its home hub. The home hub's feed carries, for each participant, its log document (the
-- participant's directory entries on the home hub, with inclusion proofs to a checkpoint the home hub
-- signed: what issue 18's key proofs are); this hub keeps the latest one with the mirrored entry and
-- shows it with the entry, so a client or an evidence bundle checks each mirrored key's binding chain
-- against the home hub's own log (hub/core/home_chain.py). NULL for the hub's own participants.
ALTER TABLE participants ADD COLUMN home_proof jsonb;
ALTER TABLE participants ADD CONSTRAINT participants_home_proof_check
    CHECK (home_proof IS NULL OR home_hub IS NOT NULL);
