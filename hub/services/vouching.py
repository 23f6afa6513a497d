"""What a hub vouches for: its vouching feed (`hub.core.vouching_feed`), built from its directory, and
the check of a peer's feed against the peer's keys in this hub's directory."""

from __future__ import annotations

from typing import Any

from hub.core.hub_identity import HubIdentity
from hub.core.jose import PublicJwk
from hub.core.vouching_feed import Feed, FeedError, sign_feed, verify_feed
from hub.services.bindings import TRUSTED_ORIGINS
from hub.store import directory
from hub.store.database import Conn


async def own_feed(conn: Conn, hub: HubIdentity, issued_at: int) -> str:
    """The hub's signed feed: its own participants (not the hubs) with the keys its clients trust."""
    entries: list[dict[str, Any]] = []
    for participant in await directory.list_participants(conn):
        if participant.kind == "hub":
            continue
        keys = [
            {"jwk": k.jwk, "origin": k.origin, "epoch": k.epoch, "binding": k.binding}
            for k in await directory.keys_of(conn, participant.id)
            if k.origin in TRUSTED_ORIGINS and k.revoked_at is None
        ]
        entries.append(
            {
                "id": participant.id,
                "name": participant.name,
                "kind": participant.kind,
                "country": participant.country,
                "accepts": list(participant.accepts),
                "keys": keys,
            }
        )
    return sign_feed(hub.key, hub_id=hub.hub_id, issued_at=issued_at, participants=entries)


async def peer_feed(conn: Conn, peer_id: str, text: str) -> Feed:
    """A peer's feed, verified with the peer's signing keys as this hub's directory holds them."""
    peer = await directory.get_participant(conn, peer_id)
    if peer is None or peer.kind != "hub":
        raise FeedError(f"'{peer_id}' is not a registered peer hub")
    keys = [
        PublicJwk.from_dict(k.jwk)
        for k in await directory.keys_of(conn, peer_id)
        if k.use == "sig" and k.revoked_at is None
    ]
    return verify_feed(text, peer_id, keys)
