-- Push delivery: deliveries to participants with an endpoint are pushed by workers instead of waiting
-- in a pull inbox. A push delivery is leased while in flight; every attempt is recorded; failures
-- back off per destination; a delivery past its retry budget is dead-lettered.

ALTER TABLE deliveries
    ADD COLUMN channel          text NOT NULL DEFAULT 'pull' CHECK (channel IN ('pull', 'push')),
    ADD COLUMN adapter          text,
    ADD COLUMN due_at           timestamptz,
    ADD COLUMN lease_token      uuid,
    ADD COLUMN leased_by        text,
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN attempts         integer NOT NULL DEFAULT 0,
    ADD COLUMN first_attempt_at timestamptz,
    ADD COLUMN last_attempt_at  timestamptz,
    ADD COLUMN last_status      integer,
    ADD COLUMN last_error       text,
    ADD COLUMN delivered_at     timestamptz,
    ADD COLUMN dead_at          timestamptz,
    ADD COLUMN dead_reason      text,
    ADD COLUMN evidence         text;

ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'retrieved', 'in_flight', 'delivered', 'dead'));
ALTER TABLE deliveries ADD CONSTRAINT deliveries_push_has_adapter
    CHECK ((channel = 'push') = (adapter IS NOT NULL));
ALTER TABLE deliveries ADD CONSTRAINT deliveries_lease_complete
    CHECK ((state = 'in_flight') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL));

DROP INDEX deliveries_inbox_idx;
CREATE INDEX deliveries_inbox_idx ON deliveries (recipient_id, seq) WHERE state = 'pending' AND channel = 'pull';
CREATE INDEX deliveries_push_due_idx ON deliveries (due_at) WHERE state = 'pending' AND channel = 'push';
CREATE INDEX deliveries_push_lease_idx ON deliveries (lease_expires_at) WHERE state = 'in_flight';
CREATE INDEX deliveries_dead_idx ON deliveries (dead_at) WHERE state = 'dead';

-- Per-destination retry state, shared by every hub process.
CREATE TABLE destinations (
    participant_id        text PRIMARY KEY REFERENCES participants (id),
    consecutive_failures  integer NOT NULL DEFAULT 0,
    next_attempt_at       timestamptz,
    parked_at             timestamptz,
    parked_reason         text,
    last_success_at       timestamptz,
    last_failure_at       timestamptz
);

CREATE TABLE delivery_attempts (
    id            bigserial PRIMARY KEY,
    delivery_seq  bigint NOT NULL REFERENCES deliveries (seq),
    attempt       integer NOT NULL,
    worker        text NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    verdict       text NOT NULL CHECK (verdict IN ('delivered', 'retry', 'attention', 'permanent')),
    http_status   integer,
    detail        text NOT NULL
);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_seq, id);
