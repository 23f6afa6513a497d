-- The complete subtrees of the audit log's Merkle tree (issue 21: evidence at scale). A node at `level`
-- (>= 1) and `idx` is the RFC 9162 head of the 2^level leaves from leaf idx * 2^level; level 0 is the
-- leaf hash in audit_entries. The checkpointer stores each subtree a new leaf closes
-- (hub/core/merkle.py Frontier.append), so an inclusion proof needs O(log^2 n) of them instead of every
-- leaf. Append-only, like the log: a node, once complete, never changes.
CREATE TABLE audit_tree_nodes (
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 62),
    idx   bigint   NOT NULL CHECK (idx >= 0),
    hash  bytea    NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- The subtrees of the leaves sequenced before this migration, level by level (the same rule as
-- hub/core/merkle.py: SHA-256(0x01 || left || right); tests/test_audit_tree_nodes.py compares the two).
DO $$
DECLARE
    lvl smallint := 1;
    made bigint;
BEGIN
    INSERT INTO audit_tree_nodes (level, idx, hash)
    SELECT 1, l.leaf_index / 2, sha256('\x01'::bytea || l.leaf_hash || r.leaf_hash)
    FROM audit_entries l JOIN audit_entries r ON r.leaf_index = l.leaf_index + 1
    WHERE l.leaf_index % 2 = 0;
    LOOP
        INSERT INTO audit_tree_nodes (level, idx, hash)
        SELECT lvl + 1, l.idx / 2, sha256('\x01'::bytea || l.hash || r.hash)
        FROM audit_tree_nodes l JOIN audit_tree_nodes r ON r.level = lvl AND r.idx = l.idx + 1
        WHERE l.level = lvl AND l.idx % 2 = 0;
        GET DIAGNOSTICS made = ROW_COUNT;
        EXIT WHEN made = 0;
        lvl := lvl + 1;
    END LOOP;
END
$$;
