-- E-mail replies received by `hub mail-in`, kept as evidence: the raw message exactly as received, its
-- SHA-256 (which a hub-attested answer names), what the hub made of it, and the message it recorded.
-- The case, message and recipient are filled in only when the reply address carried a valid hub
-- token; a reply refused for an unknown token is kept all the same. The same e-mail received again
-- for the same address is one row (mail servers redeliver): the second delivery changes nothing.
CREATE TABLE inbound_mail (
    id                  uuid PRIMARY KEY,
    received_at         timestamptz NOT NULL,
    rcpt_to             text NOT NULL CHECK (length(rcpt_to) BETWEEN 1 AND 512),
    recipient_id        text REFERENCES participants (id),
    case_id             uuid REFERENCES cases (id),
    message_id          uuid REFERENCES messages (id),
    raw                 bytea NOT NULL,
    raw_sha256          text NOT NULL CHECK (raw_sha256 ~ '^[0-9a-f]{64}$'),
    verdict             text NOT NULL CHECK (verdict ~ '^[a-z][a-z0-9-]{1,62}$'),
    recorded_message_id uuid REFERENCES messages (id),
    UNIQUE (raw_sha256, rcpt_to)
);
CREATE INDEX inbound_mail_case_idx ON inbound_mail (case_id, received_at) WHERE case_id IS NOT NULL;
