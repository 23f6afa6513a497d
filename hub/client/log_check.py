"""Checking what the hub's audit log proves, from outside (issue 18): that a checkpoint extends the
one kept (`extends`), and that a participant's directory entry is the one its log history records
(`check_entry`). `hub keys check-log` and `HubClient.participant` (with a trust store) both use these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from hub.core.directory_proof import KeyHistory, check_listed_keys, verify_history
from hub.core.jose import PublicJwk
from hub.core.log_watch import Seen, check_advance

Get = Callable[[str], Awaitable[dict[str, Any]]]


async def extends(get: Get, before: Seen, after: Seen) -> None:
    """`LogAlarm` unless one of the two logs is a prefix of the other (the hub's consistency proof)."""
    if before.tree_size == after.tree_size:
        check_advance(before, after, [])
        return
    low, high = sorted((before.tree_size, after.tree_size))
    proof = await get(f"/v1/directory/consistency?first={low}&second={high}")
    check_advance(before, after, proof["proof"])


async def check_entry(
    get: Get,
    hub_keys: Mapping[str, PublicJwk],
    hub_id: str,
    participant_id: str,
    listed: Sequence[Mapping[str, Any]],
    kept: Seen | None,
) -> KeyHistory:
    """The participant's proven history, once its `listed` keys are checked against it and its
    checkpoint against `kept`. `LogAlarm` if the log contradicts them, `NotYetLogged` if it cannot tell
    yet."""
    history = verify_history(
        await get(f"/v1/participants/{quote(participant_id, safe='')}/log"), hub_keys, hub_id, participant_id
    )
    if kept is not None:
        await extends(get, kept, history.seen)
    check_listed_keys(history, listed)
    return history
