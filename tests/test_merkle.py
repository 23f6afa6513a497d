"""The audit log's Merkle tree against the RFC 6962 / RFC 9162 test vectors (Certificate Transparency's
reference data): tree heads of the eight standard leaves, inclusion and consistency proofs."""

from __future__ import annotations

import pytest

from hub.core.merkle import (
    EMPTY_ROOT,
    Frontier,
    Node,
    consistency_from_nodes,
    consistency_nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    proof_from_nodes,
    proof_nodes,
    root,
    subtrees_of,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
HEADS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
HASHED = [leaf_hash(d) for d in LEAVES]


def test_empty_tree_head() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT == Frontier().root()


@pytest.mark.parametrize("size", range(1, 9))
def test_tree_heads_match_the_reference_vectors(size: int) -> None:
    assert root(HASHED[:size]).hex() == HEADS[size - 1]


def test_the_frontier_gives_the_same_heads_incrementally_and_survives_storage() -> None:
    frontier = Frontier()
    for size, leaf in enumerate(HASHED, start=1):
        frontier.append(leaf)
        assert frontier.root().hex() == HEADS[size - 1]
        restored = Frontier.from_list(frontier.size, frontier.to_list())
        assert restored.root() == frontier.root()
    assert len(frontier.peaks) == 1  # 8 leaves: one complete subtree


@pytest.mark.parametrize(("size", "index"), [(n, i) for n in range(1, 9) for i in range(n)])
def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not(size: int, index: int) -> None:
    head = root(HASHED[:size])
    proof = inclusion_proof(HASHED[:size], index)
    assert verify_inclusion(HASHED[index], index, size, proof, head)
    other = HASHED[(index + 1) % 8]
    assert not verify_inclusion(other, index, size, proof, head)
    if proof:
        assert not verify_inclusion(HASHED[index], index, size, [bytes(32), *proof[1:]], head)


def test_known_inclusion_path() -> None:
    """RFC 6962 reference: the path for leaf 0 of the 8-leaf tree."""
    proof = inclusion_proof(HASHED, 0)
    assert [p.hex() for p in proof] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]


# -- proofs from stored subtrees (issue 21: a bundle in O(log n) per entry) ---------------------------------
def stored(leaves: list[bytes]) -> dict[Node, bytes]:
    """What the store keeps for a tree of these leaves: the leaves (level 0) and every closed subtree."""
    return {Node(0, i): leaf for i, leaf in enumerate(leaves)} | dict(subtrees_of(leaves))


@pytest.mark.parametrize("size", range(1, 70))
def test_proofs_from_stored_subtrees_are_the_proofs_over_every_leaf(size: int) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    nodes = stored(leaves)
    head = root(leaves)
    for index in range(size):
        needed = proof_nodes(index, size)
        path = proof_from_nodes(index, size, {n: nodes[n] for n in needed})  # only what it asked for
        assert path == inclusion_proof(leaves, index)
        assert verify_inclusion(leaves[index], index, size, path, head)
        assert len(needed) <= max(1, size.bit_length()) ** 2


def test_each_closed_subtree_is_the_head_of_its_leaves() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(37)]
    for node, digest in subtrees_of(leaves):
        start = node.index << node.level
        assert digest == root(leaves[start : start + (1 << node.level)])
    assert {n.level for n, _ in subtrees_of(leaves)} == {1, 2, 3, 4, 5}


def test_a_missing_subtree_is_a_key_error_not_a_wrong_proof() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(10)]
    nodes = stored(leaves)
    del nodes[Node(3, 0)]
    with pytest.raises(KeyError):
        proof_from_nodes(9, 10, nodes)


# -- consistency proofs (issue 18: clients check that history was never rewritten) --------------------------
KNOWN_CONSISTENCY = {  # RFC 6962 reference data (certificate-transparency merkle tree tests)
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


@pytest.mark.parametrize(("first", "second"), sorted(KNOWN_CONSISTENCY))
def test_known_consistency_proofs(first: int, second: int) -> None:
    proof = consistency_proof(HASHED[:second], first)
    assert [p.hex() for p in proof] == KNOWN_CONSISTENCY[(first, second)]
    assert verify_consistency(first, second, proof, root(HASHED[:first]), root(HASHED[:second]))


@pytest.mark.parametrize("second", range(1, 40))
def test_every_consistency_proof_verifies_from_stored_subtrees_and_a_rewrite_does_not(second: int) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(second)]
    nodes = stored(leaves)
    for first in range(1, second + 1):
        needed = consistency_nodes(first, second)
        proof = consistency_from_nodes(first, second, {n: nodes[n] for n in needed})
        assert proof == consistency_proof(leaves, first)
        old, new = root(leaves[:first]), root(leaves)
        assert verify_consistency(first, second, proof, old, new)
        rewritten = [leaf_hash(b"rewritten"), *leaves[1:]]  # history changed under the old head
        assert not verify_consistency(first, second, proof, old, root(rewritten))
        if proof:
            assert not verify_consistency(first, second, [bytes(32), *proof[1:]], old, new)


def test_a_smaller_tree_cannot_follow_a_larger_one() -> None:
    assert not verify_consistency(5, 4, [], root(HASHED[:5]), root(HASHED[:4]))
    with pytest.raises(ValueError, match="first <= second"):
        consistency_proof(HASHED[:4], 5)
