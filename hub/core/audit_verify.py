"""Verifying the audit log: recompute every leaf and every signed tree head, report the first fault.

Faults, in the order they are looked for:
- `missing`: a leaf position has no entry (a row was deleted);
- `changed`: an entry no longer hashes to its leaf (a field was changed, or the row was moved to
  another position, which the leaf also covers);
- `checkpoint`: the tree of the first N entries is not the head the hub signed for N (entries were
  changed and their leaf hashes recomputed to hide it), or a checkpoint's signature or chain is wrong
  (a checkpoint was removed or forged);
- `truncated`: a checkpoint covers more entries than remain (rows were deleted at the end);
- `stuck`: an entry has waited for sequencing longer than `STUCK_AFTER_INTERVALS` sequencer intervals
  (the sequencer is not running, or the hub stopped without sealing), so it is not protected.
Entries not yet sequenced are counted as pending: they are protected from the next checkpoint on.
A checkpoint of size 0 (earlier versions signed one when idle on a new database) is checked against
the empty tree head, not reported as truncation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.core.audit import entry_leaf
from hub.core.merkle import EMPTY_ROOT, Frontier

STUCK_AFTER_INTERVALS = 5  # pending longer than this many sequencer intervals: the sequencer is stuck


@dataclass(frozen=True)
class AuditFault:
    kind: str
    leaf_index: int | None
    detail: str


@dataclass(frozen=True)
class AuditReport:
    entries: int
    checkpoints: int
    pending: int
    verified_tree_size: int
    fault: AuditFault | None

    @property
    def ok(self) -> bool:
        return self.fault is None


CheckpointReader = Callable[[str], Mapping[str, Any] | None]  # signed checkpoint -> claims if it verifies


def verify_log(
    entries: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[Mapping[str, Any]],
    read_checkpoint: CheckpointReader,
    pending: int = 0,
    pending_age_seconds: float | None = None,
    sequencer_interval_seconds: float | None = None,
) -> AuditReport:
    ordered = sorted(checkpoints, key=lambda c: int(c["tree_size"]))
    frontier, verified, cursor = Frontier(), 0, 0
    previous: tuple[int, str] | None = None

    def report(fault: AuditFault | None) -> AuditReport:
        return AuditReport(len(entries), len(checkpoints), pending, verified, fault)

    while cursor < len(ordered) and int(ordered[cursor]["tree_size"]) == 0:
        fault = _check(ordered[cursor], EMPTY_ROOT.hex(), previous, read_checkpoint)
        if fault is not None:
            return report(fault)
        previous = (0, EMPTY_ROOT.hex())
        cursor += 1
    for expected, row in enumerate(entries):
        index = int(row["leaf_index"])
        if index != expected:
            return report(AuditFault("missing", expected, f"entry {expected} is missing: a row was deleted"))
        leaf = entry_leaf(index, row)
        if leaf != bytes(row["leaf_hash"]):
            return report(
                AuditFault("changed", index, f"entry {index} does not match its leaf hash: it was altered")
            )
        frontier.append(leaf)
        while cursor < len(ordered) and int(ordered[cursor]["tree_size"]) == frontier.size:
            fault = _check(ordered[cursor], frontier.root().hex(), previous, read_checkpoint)
            if fault is not None:
                return report(fault)
            previous = (frontier.size, frontier.root().hex())
            verified = frontier.size
            cursor += 1
    if cursor < len(ordered):
        size = int(ordered[cursor]["tree_size"])
        return report(
            AuditFault(
                "truncated",
                frontier.size,
                f"a checkpoint covers {size} entries but only "
                f"{frontier.size} remain: entries were deleted at the end",
            )
        )
    return report(_stuck(pending, frontier.size, pending_age_seconds, sequencer_interval_seconds))


def _stuck(pending: int, size: int, age: float | None, interval: float | None) -> AuditFault | None:
    if not pending or age is None or interval is None or age <= STUCK_AFTER_INTERVALS * interval:
        return None
    return AuditFault(
        "stuck",
        size,
        f"{pending} entries have waited {int(age)} s for sequencing (more than "
        f"{STUCK_AFTER_INTERVALS} intervals): the sequencer is not running, so they are unprotected",
    )


def _check(
    checkpoint: Mapping[str, Any], head: str, previous: tuple[int, str] | None, read: CheckpointReader
) -> AuditFault | None:
    size = int(checkpoint["tree_size"])
    claims = read(str(checkpoint["checkpoint"]))
    if claims is None:
        return AuditFault("checkpoint", size, f"the checkpoint at {size} entries is not signed by the hub")
    if (
        claims.get("tree_size") != size
        or claims.get("root_hash") != head
        or bytes(checkpoint["root_hash"]).hex() != head
    ):
        return AuditFault(
            "checkpoint",
            size,
            f"the first {size} entries do not form the tree head the hub signed: entries were altered and "
            "re-hashed, or moved",
        )
    signed_previous = claims.get("previous")
    expected = None if previous is None else {"tree_size": previous[0], "root_hash": previous[1]}
    if signed_previous != expected:
        return AuditFault(
            "checkpoint",
            size,
            f"the checkpoint at {size} entries does not follow the one before "
            "it: a checkpoint was removed or forged",
        )
    return None
