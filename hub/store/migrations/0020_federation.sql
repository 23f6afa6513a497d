-- Issue 20 (docs/federation.md): participants of a peer hub, mirrored from its signed vouching feed. Such a
-- participant has the global id '<local id>@<home hub id>' and `home_hub` names that peer (kind 'hub');
-- a hub's own participants have no home hub and no '@'. Their keys enter as 'feed': taken from the home
-- hub's feed, which the peer hub's key signed (the binding stays with the home hub and in the audit log).
ALTER TABLE participants DROP CONSTRAINT participants_id_check;
ALTER TABLE participants
    ADD CONSTRAINT participants_id_check
        CHECK (id ~ '^[a-z0-9][a-z0-9._-]{1,62}(@[a-z0-9][a-z0-9._-]{1,62})?$'),
    ADD COLUMN home_hub text REFERENCES participants (id),
    ADD CONSTRAINT participants_home_hub_check CHECK ((home_hub IS NULL) = (position('@' IN id) = 0));

ALTER TABLE participant_keys DROP CONSTRAINT participant_keys_origin_check;
ALTER TABLE participant_keys ADD CONSTRAINT participant_keys_origin_check
    CHECK (origin IN ('registration', 'binding', 'reset', 'legacy', 'feed'));
