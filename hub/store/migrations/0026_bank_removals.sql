-- Issue 19.5: the purge reaches HMA banks. A case's purge marks what it banked in platforms' HMA as due
-- for removal; the hub's bank sweep (hub/services/bank_sweep.py) removes it and sets removed_at.
ALTER TABLE bank_contents ADD COLUMN remove_due_at timestamptz;
CREATE INDEX bank_contents_removal_idx ON bank_contents (remove_due_at)
    WHERE remove_due_at IS NOT NULL AND removed_at IS NULL;
