-- Issue 16.9: a participant's contact e-mail address (its directory contact: the hub tells it there
-- when its push destination is parked), and which parking of a destination it was told about.
ALTER TABLE participants
    ADD COLUMN contact_email text CHECK (contact_email IS NULL OR length(contact_email) BETWEEN 3 AND 254);
-- park_notice_for: the parked_at whose notice was sent (or is being sent); one notice per parking.
ALTER TABLE destinations
    ADD COLUMN park_notice_for timestamptz;
