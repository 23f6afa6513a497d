-- Issue 20 (docs/federation.md, section 6): each hub counts its own participants' legal clocks and tells
-- a peer hub's participant who asked how each ended. A clock of this hub's own participant, on a message
-- a participant of a peer hub sent, that ends (met, answered late after a breach, breached) is queued
-- here in the transaction that ends it; the clock worker issues a `clock-result` message for it (to the
-- asking participant, forwarded to its hub like any message) in the transaction that marks it reported,
-- so each result is issued once, and a crash in between issues it later rather than never.
CREATE TABLE clock_reports (
    id           bigserial PRIMARY KEY,
    deadline_id  bigint NOT NULL REFERENCES deadlines (id),
    result       text NOT NULL CHECK (result IN ('met', 'answered-late', 'breached')),
    at           timestamptz NOT NULL,
    answered_by  uuid REFERENCES messages (id),
    escalation   uuid REFERENCES messages (id),
    reported_at  timestamptz,
    report_id    uuid REFERENCES messages (id),  -- the clock-result issued (NULL: refused, logged)
    UNIQUE (deadline_id, result),
    CHECK (report_id IS NULL OR reported_at IS NOT NULL)
);
CREATE INDEX clock_reports_due_idx ON clock_reports (id) WHERE reported_at IS NULL;
