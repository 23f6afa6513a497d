-- Hash signals (issue 19): the hashes of a takedown request's content items, shared with the platforms'
-- own matchers (hub/core/signals.py has the rules, docs/wire-contract.md the feed).
--
-- A platform opts in to the hashes of referrals not addressed to it (only those whose sender says the
-- person consents) with `hash_signals`.
ALTER TABLE participants ADD COLUMN hash_signals boolean NOT NULL DEFAULT false;

-- One signal per distinct hash of a content item of a takedown request. `value` is the hash; the case's
-- purge forgets it (NULL, `purged_at` set): a signal's id is what platforms delete by.
CREATE TABLE signals (
    id          uuid PRIMARY KEY,
    case_id     uuid NOT NULL REFERENCES cases (id),
    message_id  uuid NOT NULL REFERENCES messages (id),
    item        integer NOT NULL CHECK (item >= 0),
    alg         text NOT NULL CHECK (alg IN ('pdq', 'md5', 'sha256')),
    value       text CHECK (value ~ '^[0-9a-f]{32}([0-9a-f]{32})?$'),
    created_at  timestamptz NOT NULL,
    purged_at   timestamptz,
    CHECK ((value IS NULL) = (purged_at IS NOT NULL))
);
CREATE INDEX signals_case_idx ON signals (case_id);

-- A copy of a signal for one platform: as a recipient of the request, or as a platform that opted in.
-- Its current status; every change is also a row of signal_changes.
CREATE TABLE signal_copies (
    signal_id          uuid NOT NULL REFERENCES signals (id),
    platform_id        text NOT NULL REFERENCES participants (id),
    audience           text NOT NULL CHECK (audience IN ('recipient', 'opted-in')),
    status             text NOT NULL CHECK (status IN ('active', 'withdrawn', 'deleted')),
    status_changed_at  timestamptz NOT NULL,
    PRIMARY KEY (signal_id, platform_id)
);
CREATE INDEX signal_copies_platform_idx ON signal_copies (platform_id);

-- The change log the feed reads: append-only. `seq` is the feed position, given after commit, in commit
-- order, by one sequencer at a time (as the audit log's leaf index is), so a reader that has seen seq n
-- never later finds a change below n: rows are inserted with seq NULL, set once, never changed again.
CREATE TABLE signal_changes (
    id           bigserial PRIMARY KEY,
    seq          bigint UNIQUE,
    signal_id    uuid NOT NULL,
    platform_id  text NOT NULL,
    status       text NOT NULL CHECK (status IN ('active', 'withdrawn', 'deleted')),
    changed_at   timestamptz NOT NULL,
    FOREIGN KEY (signal_id, platform_id) REFERENCES signal_copies (signal_id, platform_id)
);
CREATE INDEX signal_changes_unsequenced_idx ON signal_changes (id) WHERE seq IS NULL;
CREATE INDEX signal_changes_feed_idx ON signal_changes (platform_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX signal_changes_copy_idx ON signal_changes (signal_id, platform_id, id);

CREATE FUNCTION signal_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'signal_changes is append-only: a change is never deleted';
    END IF;
    IF OLD.seq IS NOT NULL OR NEW.seq IS NULL OR NEW.id <> OLD.id OR NEW.signal_id <> OLD.signal_id
       OR NEW.platform_id <> OLD.platform_id OR NEW.status <> OLD.status OR NEW.changed_at <> OLD.changed_at THEN
        RAISE EXCEPTION 'signal_changes is append-only: only an unsequenced change gets its seq, once';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER signal_changes_append_only BEFORE UPDATE OR DELETE ON signal_changes
    FOR EACH ROW EXECUTE FUNCTION signal_changes_append_only();
