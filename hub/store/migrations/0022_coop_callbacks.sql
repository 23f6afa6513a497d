-- Issue 19.5: ROOST Coop action callbacks taken as a platform's answer (hub/services/coop_callbacks.py).
-- Only a callback whose Coop signature verifies is ever stored: the raw body exactly as received
-- (encrypted with its case's data key, so it is shredded with the case; NULL once purged), its SHA-256
-- (which the hub-attested answer names as its evidence), the Coop action, what the hub made of it and
-- the message it recorded. The same body received again for the same platform is one row (Coop retries
-- a callback answered 5xx): the second one changes nothing.
CREATE TABLE coop_callbacks (
    id                  uuid PRIMARY KEY,
    received_at         timestamptz NOT NULL,
    recipient_id        text NOT NULL REFERENCES participants (id),
    case_id             uuid NOT NULL REFERENCES cases (id),
    message_id          uuid NOT NULL REFERENCES messages (id),
    coop_action_id      text NOT NULL CHECK (length(coop_action_id) BETWEEN 1 AND 200),
    raw                 bytea,
    raw_encrypted       boolean NOT NULL DEFAULT false,
    raw_sha256          text NOT NULL CHECK (raw_sha256 ~ '^[0-9a-f]{64}$'),
    raw_bytes           integer NOT NULL CHECK (raw_bytes >= 0),
    verdict             text NOT NULL CHECK (verdict ~ '^[a-z][a-z0-9-]{1,62}$'),
    recorded_message_id uuid REFERENCES messages (id),
    UNIQUE (raw_sha256, recipient_id)
);
CREATE INDEX coop_callbacks_case_idx ON coop_callbacks (case_id, received_at);
