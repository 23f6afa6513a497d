"""A Merkle tree in the manner of RFC 9162 (Certificate Transparency 2.0), for the audit log.

Leaves are hashed `SHA-256(0x00 || data)`, interior nodes `SHA-256(0x01 || left || right)`; the tree
head of n leaves splits at the largest power of two below n. `Frontier` keeps only the roots of the
complete subtrees along the right edge (at most log2 n hashes), so appending a leaf and taking the head
cost O(log n) and a checkpoint never re-reads the whole log. `inclusion_proof` / `verify_inclusion`
give and check the audit path that proves one entry is in a tree of a given size and head;
`consistency_proof` / `verify_consistency` the proof that a tree is a prefix of a later one (no
rewritten history), which clients check between the checkpoints they remember.

At scale, a proof is not computed from every leaf: `Frontier.append` returns the complete subtrees each
leaf closes (`Node`: level >= 1, index among the subtrees of that level), which the store keeps, and
`proof_nodes` / `proof_from_nodes` build the same audit path from O(log^2 n) of them (level 0 is the
leaf hash itself). `tests/test_merkle.py` holds the two ways to each other for every size and index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree head of these leaf hashes (RFC 9162 MTH)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


@dataclass(frozen=True, order=True)
class Node:
    """The complete subtree of 2**level leaves starting at leaf index * 2**level."""

    level: int
    index: int


@dataclass
class Frontier:
    """The right edge of a tree: (height, hash) of each complete subtree, largest first."""

    size: int = 0
    peaks: list[tuple[int, bytes]] = field(default_factory=list)

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Add a leaf; the complete subtrees of level >= 1 it closes, with their hashes."""
        height, node = 0, leaf
        closed: list[tuple[Node, bytes]] = []
        while self.peaks and self.peaks[-1][0] == height:
            _, left = self.peaks.pop()
            node = node_hash(left, node)
            height += 1
            closed.append((Node(height, ((self.size + 1) >> height) - 1), node))
        self.peaks.append((height, node))
        self.size += 1
        return closed

    def root(self) -> bytes:
        if not self.peaks:
            return EMPTY_ROOT
        node = self.peaks[-1][1]
        for _, left in reversed(self.peaks[:-1]):
            node = node_hash(left, node)
        return node

    def to_list(self) -> list[list[object]]:
        return [[height, digest.hex()] for height, digest in self.peaks]

    @classmethod
    def from_list(cls, size: int, peaks: Sequence[Sequence[object]]) -> Frontier:
        return cls(size, [(int(str(h)), bytes.fromhex(str(d))) for h, d in peaks])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path for leaf `index` in the tree of all `leaves` (RFC 9162 section 2.1.3.1)."""
    if not 0 <= index < len(leaves):
        raise ValueError("leaf index outside the tree")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root(leaves[:k])]


def _path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose heads make the audit path of `index` in a tree of `size`, in
    the order of `inclusion_proof` (nearest the leaf first)."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _pieces(start: int, end: int) -> list[Node]:
    """[start, end) as complete subtrees, largest first (start is aligned to a power of two at least the
    range's largest piece, as every range of an audit path is)."""
    pieces, position, remaining = [], start, end - start
    for level in range(remaining.bit_length() - 1, -1, -1):
        if remaining >> level & 1:
            pieces.append(Node(level, position >> level))
            position += 1 << level
    return pieces


def proof_nodes(index: int, size: int) -> set[Node]:
    """The stored subtrees (level 0: leaves) that the audit path of `index` in a tree of `size` needs."""
    return {piece for start, end in _path_ranges(index, size) for piece in _pieces(start, end)}


def proof_from_nodes(index: int, size: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    """The audit path of `index` in a tree of `size`, from the subtrees `proof_nodes` named; the same
    hashes as `inclusion_proof` over every leaf. KeyError if one is missing."""
    return [_head(_pieces(start, end), nodes) for start, end in _path_ranges(index, size)]


def subtrees_of(leaves: Iterable[bytes]) -> list[tuple[Node, bytes]]:
    """Every complete subtree of level >= 1 of a tree of these leaves (what the store keeps)."""
    frontier, closed = Frontier(), []
    for leaf in leaves:
        closed += frontier.append(leaf)
    return closed


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2: does `proof` place `leaf` at `index` of a tree of `size` with this head?"""
    if not 0 <= index < size:
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == expected_root


# -- consistency (RFC 9162 section 2.1.4) -------------------------------------------------------------------
def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose heads make the consistency proof from a tree of `first` leaves
    to one of `second` (RFC 9162 section 2.1.4.1, SUBPROOF), in proof order."""
    if not 0 < first <= second:
        raise ValueError("a consistency proof needs 0 < first <= second")
    ranges: list[tuple[int, int]] = []

    def subproof(m: int, lo: int, hi: int, whole: bool) -> None:
        n = hi - lo
        if m == n:
            if not whole:
                ranges.append((lo, hi))
            return
        k = _split(n)
        if m <= k:
            subproof(m, lo, lo + k, whole)
            ranges.append((lo + k, hi))
        else:
            subproof(m - k, lo + k, hi, False)
            ranges.append((lo, lo + k))

    if first < second:
        subproof(first, 0, second, True)
    return ranges


def consistency_proof(leaves: Sequence[bytes], first: int) -> list[bytes]:
    """The consistency proof from the tree of the first `first` of `leaves` to the tree of all."""
    return [root(leaves[start:end]) for start, end in consistency_ranges(first, len(leaves))]


def consistency_nodes(first: int, second: int) -> set[Node]:
    """The stored subtrees (level 0: leaves) that the consistency proof from `first` to `second` needs."""
    return {piece for start, end in consistency_ranges(first, second) for piece in _pieces(start, end)}


def consistency_from_nodes(first: int, second: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    """The consistency proof from `first` to `second` from the subtrees `consistency_nodes` named; the
    same hashes as `consistency_proof` over every leaf. KeyError if one is missing."""
    return [_head(_pieces(start, end), nodes) for start, end in consistency_ranges(first, second)]


def _head(pieces: Sequence[Node], nodes: Mapping[Node, bytes]) -> bytes:
    head = nodes[pieces[-1]]
    for piece in reversed(pieces[:-1]):
        head = node_hash(nodes[piece], head)
    return head


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """RFC 9162 section 2.1.4.2: does `proof` show the tree of `first` leaves with head `first_root` is a
    prefix of the tree of `second` leaves with head `second_root`?"""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is itself a node of the second
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
