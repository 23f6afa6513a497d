"""Finding a case by the short id a person typed, for the operator commands (who may read every case).
Participants resolve a prefix through the API among the cases they may read (`HubClient.resolve_case`)."""

from __future__ import annotations

import uuid

from hub.core.case_reference import parse_case_reference, the_one_match
from hub.store.database import Conn
from hub.store.queries import query


async def resolve_case(conn: Conn, reference: str) -> uuid.UUID:
    """The case a full id or an unambiguous prefix names; CaseReferenceError otherwise."""
    parsed = parse_case_reference(reference)
    if parsed.case_id is not None:
        return parsed.case_id
    rows = await conn.fetch(query("case_ids_with_prefix"), parsed.prefix)
    return uuid.UUID(the_one_match(parsed.prefix, [r["case_id"] for r in rows]))
