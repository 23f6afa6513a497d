"""Syncing a peer's vouching feed (docs/federation.md, section 3): fetch
`GET <peer>/v1/federation/participants` from the peer's endpoint in this hub's directory, verify it with
the peer's registered keys (`hub.services.vouching.peer_feed`) and mirror it (`mirror_feed`, one
transaction). Anything that fails (the peer unknown or unreachable, an answer that is not its signed feed,
a feed that does not verify or names an id held by another) is a `PeerSyncError` with one line saying
which, and changes nothing."""

from __future__ import annotations

from datetime import datetime

import aiohttp

from hub.core.vouching_feed import FeedError
from hub.services.vouching import mirror_feed, peer_feed
from hub.store import directory
from hub.store.database import Conn
from hub.store.directory import DirectoryError

FEED_PATH = "/v1/federation/participants"
MAX_FEED_BYTES = 8 * 1024 * 1024


class PeerSyncError(Exception):
    """A peer's feed could not be taken; the message is one line and names no participant data."""


async def sync_peer(
    conn: Conn, session: aiohttp.ClientSession, peer_id: str, at: datetime, *, wait_seconds: float = 30.0
) -> list[str]:
    """Fetch, verify and mirror `peer_id`'s feed; the global ids it lists."""
    peer = await directory.get_participant(conn, peer_id)
    if peer is None or peer.kind != "hub":
        raise PeerSyncError(f"'{peer_id}' is not a registered peer hub (kind hub)")
    if not peer.endpoint:
        raise PeerSyncError(f"the peer hub '{peer_id}' has no endpoint in the directory")
    text = await _fetch(session, peer.endpoint.rstrip("/") + FEED_PATH, peer_id, wait_seconds)
    try:
        return await mirror_feed(conn, await peer_feed(conn, peer_id, text), at)
    except (FeedError, DirectoryError) as exc:
        raise PeerSyncError(f"the feed of '{peer_id}' is refused: {exc}") from None


async def _fetch(session: aiohttp.ClientSession, url: str, peer_id: str, wait_seconds: float) -> str:
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=wait_seconds), allow_redirects=False
        ) as response:
            body = await response.content.read(MAX_FEED_BYTES + 1)
            if response.status != 200:
                raise PeerSyncError(f"the peer hub '{peer_id}' answered HTTP {response.status} for its feed")
    except TimeoutError:
        raise PeerSyncError(f"the peer hub '{peer_id}' did not answer in {wait_seconds:g} s") from None
    except aiohttp.ClientError as exc:
        raise PeerSyncError(f"cannot reach the peer hub '{peer_id}': {exc.__class__.__name__}") from None
    if len(body) > MAX_FEED_BYTES:
        raise PeerSyncError(f"the feed of '{peer_id}' is larger than {MAX_FEED_BYTES} bytes")
    try:
        return body.decode("ascii")  # a compact JWS is base64url and dots
    except UnicodeDecodeError:
        raise PeerSyncError(
            f"the peer hub '{peer_id}' answered something that is not a compact JWS"
        ) from None
