-- Issue 19.5: what the `hma` adapter banked in a platform's HMA, one row per content item of a request:
-- the bank and HMA's own content id, which removing it takes (DELETE /c/bank/<bank>/content/<id>). A
-- retried delivery skips what is recorded here (HMA has no idempotency key); a withdrawal delivered to
-- the platform removes the case's contents and marks them removed. Identifiers only: no hash, no URL.
CREATE TABLE bank_contents (
    recipient_id text NOT NULL REFERENCES participants (id),
    message_id   uuid NOT NULL REFERENCES messages (id),
    item         integer NOT NULL CHECK (item >= 0),
    case_id      uuid NOT NULL REFERENCES cases (id),
    bank         text NOT NULL CHECK (length(bank) BETWEEN 1 AND 200),
    content_id   text NOT NULL CHECK (length(content_id) BETWEEN 1 AND 40),
    banked_at    timestamptz NOT NULL,
    removed_at   timestamptz,
    PRIMARY KEY (recipient_id, message_id, item)
);
CREATE INDEX bank_contents_case_idx ON bank_contents (case_id, recipient_id) WHERE removed_at IS NULL;
