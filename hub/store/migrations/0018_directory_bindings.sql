-- Issue 18: a directory participants can check. Each key records how it entered the directory:
-- 'registration' (the first signing key, registered by the operator after an out-of-band fingerprint
-- check), 'binding' (signed by one of the participant's current signing keys: `binding` holds the JWS),
-- 'reset' (the first key of a new identity after a lost-key recovery) or 'legacy' (added before bindings
-- existed, or by anyone else: clients do not trust such a key until its participant signs a binding).
-- `epoch` counts a participant's resets; `seq` is the order keys were added in (a binding is checked
-- against the keys before it).
ALTER TABLE participant_keys
    ADD COLUMN seq     bigserial,
    ADD COLUMN origin  text NOT NULL DEFAULT 'legacy'
        CHECK (origin IN ('registration', 'binding', 'reset', 'legacy')),
    ADD COLUMN binding text,
    ADD COLUMN epoch   integer NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    ADD CHECK ((origin = 'binding') = (binding IS NOT NULL));

-- Each participant's first signing key is its registered root; every other key waits for a binding.
UPDATE participant_keys k SET origin = 'registration'
WHERE k.kid = (SELECT first.kid FROM participant_keys first
               WHERE first.participant_id = k.participant_id AND first.use = 'sig'
               ORDER BY first.not_before, first.created_at, first.kid LIMIT 1);

ALTER TABLE participants
    ADD COLUMN epoch            integer NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    ADD COLUMN delivery_binding text;

-- The directory's own entries of the audit log, found per participant without reading the whole log.
CREATE INDEX audit_entries_directory_idx ON audit_entries (subject, id)
    WHERE event IN ('participant.added', 'participant.updated', 'participant.reset', 'key.added',
                    'key.revoked', 'key.bound', 'delivery.bound');

-- Witnesses: participants (another hub, a regulator) that co-sign checkpoints they checked.
CREATE TABLE checkpoint_cosignatures (
    tree_size   bigint NOT NULL REFERENCES audit_checkpoints (tree_size),
    witness_id  text NOT NULL REFERENCES participants (id),
    cosignature text NOT NULL,
    signed_at   timestamptz NOT NULL,
    PRIMARY KEY (tree_size, witness_id)
);
