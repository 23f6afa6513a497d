"""Taking a witness's cosignature of a checkpoint (`POST /v1/directory/checkpoint/cosignatures`).

The hub keeps a cosignature only if the caller made it, with one of its current signing keys, over
exactly a checkpoint the hub signed, recently; it then serves it beside that checkpoint
(`GET /v1/directory/checkpoint`). The format is `hub/core/cosignature.py`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.core.cosignature import CosignatureError, read_cosignature, verify_cosignature
from hub.core.jose import PublicJwk
from hub.core.log_watch import Seen
from hub.core.refusal import Refusal
from hub.store import audit, directory
from hub.store.database import Conn

MAX_AGE_SECONDS = 600  # a cosignature is made right after the witness checked the log


async def accept_cosignature(
    conn: Conn, *, hub_id: str, text: str, caller: str, now: datetime
) -> dict[str, Any]:
    try:
        kid, claims = read_cosignature(text)
    except CosignatureError as exc:
        raise Refusal("invalid-cosignature", str(exc)) from None
    if claims["iss"] != caller:
        raise Refusal("invalid-cosignature", "a witness publishes only its own cosignatures")
    record = await directory.get_key(conn, kid)
    if record is None or record.participant_id != caller or record.use != "sig":
        raise Refusal(
            "invalid-cosignature", f"the cosignature's key {kid!r} is not a signing key of the caller"
        )
    problem = record.problem_at(now)
    if problem is not None:
        raise Refusal("invalid-cosignature", f"the cosignature's key is {problem}")
    size = int(str(claims["tree_size"]))
    row = await audit.checkpoint_at(conn, size)
    if row is None:
        raise Refusal("unknown-checkpoint", f"the hub signed no checkpoint of {size} entries")
    seen = Seen(size, bytes(row["root_hash"]).hex(), str(row["checkpoint"]))
    try:
        cosigned = verify_cosignature(
            text, {kid: PublicJwk.from_dict(record.jwk)}, witness_id=caller, hub_id=hub_id, seen=seen
        )
    except CosignatureError as exc:
        raise Refusal("invalid-cosignature", str(exc)) from None
    if abs(now.timestamp() - cosigned.issued_at) > MAX_AGE_SECONDS:
        raise Refusal(
            "invalid-cosignature", f"a cosignature is published within {MAX_AGE_SECONDS} s of its iat"
        )
    await audit.add_cosignature(conn, size, caller, text, now)
    return {"tree_size": size, "witness_id": caller}


async def cosignatures_of(conn: Conn, tree_size: int) -> list[dict[str, str]]:
    return [
        {"witness_id": r["witness_id"], "cosignature": r["cosignature"]}
        for r in await audit.cosignatures_at(conn, tree_size)
    ]
