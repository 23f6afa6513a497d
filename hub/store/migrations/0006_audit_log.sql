-- The tamper-evident audit log. Every timeline event and directory change is appended here in the
-- transaction that makes it. A sequencer (one at a time, under an advisory lock) gives entries their
-- Merkle leaf index in commit order and the leaf hash, which covers the index (so a reordering shows);
-- hub-signed checkpoints fix the tree head at intervals. Rows are never updated after sequencing.
CREATE TABLE audit_entries (
    id           bigserial PRIMARY KEY,
    leaf_index   bigint UNIQUE,
    leaf_hash    bytea,
    recorded_at  timestamptz NOT NULL,
    event        text NOT NULL,
    actor        text NOT NULL,
    subject      text,
    case_id      uuid,
    message_id   uuid,
    detail       jsonb NOT NULL DEFAULT '{}',
    CHECK ((leaf_index IS NULL) = (leaf_hash IS NULL))
);
CREATE INDEX audit_entries_unsequenced_idx ON audit_entries (id) WHERE leaf_index IS NULL;
CREATE INDEX audit_entries_case_idx ON audit_entries (case_id, leaf_index);

-- A checkpoint: the tree head at `tree_size`, signed by the hub (a compact JWS whose payload names the
-- size, the head and the previous checkpoint, so a removed checkpoint breaks the chain), and the
-- frontier needed to extend the tree without re-reading it.
CREATE TABLE audit_checkpoints (
    tree_size    bigint PRIMARY KEY,
    root_hash    bytea NOT NULL,
    signed_at    timestamptz NOT NULL,
    checkpoint   text NOT NULL,
    frontier     jsonb NOT NULL
);
