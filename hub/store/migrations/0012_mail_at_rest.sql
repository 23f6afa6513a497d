-- Issue 14, finding 6: raw e-mail replies are no longer kept in clear. A reply to a case is stored
-- encrypted with the case's data key (raw_encrypted, as messages' signed forms) and purged with the
-- case; mail to no known reply address has no case: it is cut to a few kilobytes, encrypted with a key
-- of its own (wrapped_key, wrapped by the hub's storage key like a case key) and deleted after a short
-- retention (HUB_MAILIN_UNMATCHED_*). raw_bytes is the size of the e-mail as received, whatever is kept.
-- Rows stored in clear before this migration are encrypted by the hub's housekeeping (it holds the key).
ALTER TABLE inbound_mail
    ADD COLUMN raw_bytes   integer CHECK (raw_bytes >= 0),
    ADD COLUMN wrapped_key bytea;
UPDATE inbound_mail SET raw_bytes = octet_length(raw) WHERE raw IS NOT NULL;
CREATE INDEX inbound_mail_unmatched_idx ON inbound_mail (received_at) WHERE case_id IS NULL;
CREATE INDEX inbound_mail_clear_idx ON inbound_mail (received_at) WHERE raw IS NOT NULL AND NOT raw_encrypted;
