"""Finding one's cases by the URL of the reported content, which the hub does not keep in clear.

The hub keeps, for each URL of a takedown request, only the keyed digest of its normal form
(`hub.core.content_url`, written at intake with the request's other rows). A search computes the same
digest of the URL given and returns the cases of the messages that name it and that the searcher sent
or was sent: a search finds only what its searcher already holds, so it tells nobody where a URL was
reported if they were not told themselves. The URL searched for is neither stored nor logged.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from hub.core.clock import rfc3339
from hub.core.content_url import looks_like_url, url_digest
from hub.core.refusal import Refusal
from hub.store import content_urls
from hub.store.case_keys import Keyring

MAX_URL = 8192  # characters of a content URL searched for
MAX_FOUND = 50  # messages read; one entry per case


async def cases_by_content_url(
    pool: asyncpg.Pool, keyring: Keyring | None, participant: str, url: object
) -> list[dict[str, Any]]:
    """The caller's cases whose takedown requests name `url`, newest first, each with the message."""
    if not isinstance(url, str) or not looks_like_url(url) or len(url) > MAX_URL:
        raise Refusal(
            "invalid-parameter",
            f"content_url must be an http or https URL of at most {MAX_URL} characters",
            parameter="content_url",
        )
    if keyring is None:  # a hub run without a storage key keeps no digests
        return []
    digest = url_digest(keyring.content_url_key, url)
    async with pool.acquire() as conn:
        rows = await content_urls.messages_naming(conn, digest, participant, MAX_FOUND)
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        case_id = str(row["case_id"])
        found.setdefault(
            case_id,
            {
                "case_id": case_id,
                "message_id": str(row["message_id"]),
                "message_type": row["message_type"],
                "accepted_at": rfc3339(row["accepted_at"]),
            },
        )
    return list(found.values())
