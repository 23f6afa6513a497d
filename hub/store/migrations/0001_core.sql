-- The directory, messages, cases, deliveries (the inbox) and the case timeline.

CREATE TABLE participants (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN ('hotline', 'platform', 'regulator', 'law-enforcement',
                                               'support-service')),
    country     text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    endpoint    text,
    accepts     text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A kid names one key across the whole directory: the JWS header carries only the kid.
CREATE TABLE participant_keys (
    kid               text PRIMARY KEY,
    participant_id    text NOT NULL REFERENCES participants (id),
    use               text NOT NULL CHECK (use IN ('sig', 'enc')),
    jwk               jsonb NOT NULL,
    not_before        timestamptz NOT NULL DEFAULT now(),
    not_after         timestamptz,
    revoked_at        timestamptz,
    revocation_reason text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (not_after IS NULL OR not_after > not_before)
);
CREATE INDEX participant_keys_participant_idx ON participant_keys (participant_id);

CREATE TABLE cases (
    id          uuid PRIMARY KEY,
    opened_by   text NOT NULL REFERENCES participants (id),
    case_type   text NOT NULL,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz
);
CREATE INDEX cases_opened_by_idx ON cases (opened_by, opened_at);

-- The exact signed form as received is the evidence; envelope fields are copied out for queries.
CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    sender_id       text NOT NULL REFERENCES participants (id),
    kid             text NOT NULL REFERENCES participant_keys (kid),
    message_type    text NOT NULL,
    version         text NOT NULL,
    case_id         uuid NOT NULL REFERENCES cases (id),
    in_reply_to     uuid REFERENCES messages (id),
    recipients      text[] NOT NULL,
    created_at      timestamptz NOT NULL,
    accepted_at     timestamptz NOT NULL,
    payload_sha256  text NOT NULL CHECK (payload_sha256 ~ '^[0-9a-f]{64}$'),
    signed_form     bytea NOT NULL,
    receipt         text NOT NULL
);
CREATE INDEX messages_case_idx ON messages (case_id, accepted_at);

-- Parties to a case: its originator, its recipients (with their state) and whom it was shared with.
CREATE TABLE case_parties (
    case_id         uuid NOT NULL REFERENCES cases (id),
    participant_id  text NOT NULL REFERENCES participants (id),
    role            text NOT NULL CHECK (role IN ('originator', 'recipient', 'shared')),
    state           text CHECK (state IN ('queued', 'retrieved', 'acknowledged', 'actioned', 'declined',
                                          'withdrawn')),
    state_changed_at timestamptz,
    added_by        text REFERENCES participants (id),
    added_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, participant_id),
    CHECK ((role = 'recipient') = (state IS NOT NULL))
);
CREATE INDEX case_parties_participant_idx ON case_parties (participant_id, case_id);

-- One delivery per message and recipient. The inbox is the pending deliveries of a recipient,
-- read in `seq` order: `seq` is the cursor.
CREATE TABLE deliveries (
    seq             bigserial PRIMARY KEY,
    message_id      uuid NOT NULL REFERENCES messages (id),
    recipient_id    text NOT NULL REFERENCES participants (id),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'retrieved')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    retrieved_at    timestamptz,
    UNIQUE (message_id, recipient_id)
);
CREATE INDEX deliveries_inbox_idx ON deliveries (recipient_id, seq) WHERE state = 'pending';

CREATE TABLE case_events (
    seq             bigserial PRIMARY KEY,
    case_id         uuid NOT NULL REFERENCES cases (id),
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    event           text NOT NULL,
    actor           text NOT NULL,
    subject         text,
    message_id      uuid REFERENCES messages (id),
    from_state      text,
    to_state        text,
    detail          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case_idx ON case_events (case_id, seq);

-- Bearer-token ids seen, kept until the token expires: a jti is good for one request only.
CREATE TABLE used_tokens (
    issuer      text NOT NULL,
    jti         text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_tokens_expiry_idx ON used_tokens (expires_at);
