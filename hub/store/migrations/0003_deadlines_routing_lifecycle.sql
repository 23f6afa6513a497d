-- Legal clocks, routing by domain, trusted flaggers, the hub as a participant, and the case lifecycle.

ALTER TABLE participants DROP CONSTRAINT participants_kind_check;
ALTER TABLE participants ADD CONSTRAINT participants_kind_check
    CHECK (kind IN ('hotline', 'platform', 'regulator', 'law-enforcement', 'support-service', 'hub'));
ALTER TABLE participants
    ADD COLUMN domains         text[] NOT NULL DEFAULT '{}',
    ADD COLUMN trusted_flagger boolean NOT NULL DEFAULT false;
CREATE INDEX participants_domains_idx ON participants USING gin (domains);
CREATE INDEX participants_kind_country_idx ON participants (kind, country);

-- The jurisdictions whose laws apply to a case (from its opening referral), and its closure.
ALTER TABLE cases
    ADD COLUMN jurisdictions text[] NOT NULL DEFAULT '{}',
    ADD COLUMN closed_by     text REFERENCES participants (id),
    ADD COLUMN close_reason  text;

ALTER TABLE case_parties
    ADD COLUMN deletion_requested_at timestamptz,
    ADD COLUMN deletion_confirmed_at timestamptz;

-- One clock per (message, recipient, kind): started when the recipient is told, met by its answer,
-- breached (once, by whichever hub process gets there first) when due, cancelled by a withdrawal or
-- closure. `next_fire_at` is the earlier of the next reminder and the due time.
CREATE TABLE deadlines (
    id                bigserial PRIMARY KEY,
    case_id           uuid NOT NULL REFERENCES cases (id),
    message_id        uuid NOT NULL REFERENCES messages (id),
    recipient_id      text NOT NULL REFERENCES participants (id),
    kind              text NOT NULL CHECK (kind IN ('acknowledge', 'act', 'respond', 'confirm_deletion')),
    jurisdiction      text NOT NULL,
    rule_id           text NOT NULL,
    legal_basis       text NOT NULL,
    notify_regulator  boolean NOT NULL DEFAULT false,
    started_at        timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    reminders         timestamptz[] NOT NULL DEFAULT '{}',
    next_fire_at      timestamptz,
    state             text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'met', 'breached', 'cancelled')),
    met_at            timestamptz,
    met_by            uuid REFERENCES messages (id),
    breached_at       timestamptz,
    escalation_id     uuid REFERENCES messages (id),
    answered_late_at  timestamptz,
    cancelled_at      timestamptz,
    UNIQUE (message_id, recipient_id, kind),
    CHECK ((state = 'open') = (next_fire_at IS NOT NULL))
);
CREATE INDEX deadlines_fire_idx ON deadlines (next_fire_at) WHERE state = 'open';
CREATE INDEX deadlines_case_idx ON deadlines (case_id, recipient_id);
CREATE INDEX deadlines_overdue_idx ON deadlines (case_id) WHERE state = 'breached' AND answered_late_at IS NULL;

-- Clocks on push deliveries start when the delivery succeeds: the delivery remembers which to start.
ALTER TABLE deliveries ADD COLUMN clocks jsonb NOT NULL DEFAULT '[]';
