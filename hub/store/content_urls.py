"""The keyed digests of content URLs (`hub.core.content_url`): written with the takedown request that
names them (a deferrable write, batched with the request's other inserts), looked up by a search,
deleted by the case's purge. No URL is stored here, only its digest."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hub.store.database import Conn
from hub.store.deferred_writes import write
from hub.store.queries import query


async def record_url_digests(conn: Conn, case_id: UUID, message_id: UUID, digests: list[bytes]) -> None:
    if digests:
        await write(conn, "insert_url_digests", case_id, message_id, digests)


async def messages_naming(conn: Conn, digest: bytes, participant: str, limit: int) -> list[dict[str, Any]]:
    """The messages whose content URLs include this digest and that `participant` sent or received,
    newest first: a search finds only what the searcher was given."""
    rows = await conn.fetch(query("messages_by_url_digest"), digest, participant, limit)
    return [dict(row) for row in rows]


async def delete_url_digests(conn: Conn, case_id: UUID) -> int:
    return len(await conn.fetch(query("purge_url_digests"), case_id))
