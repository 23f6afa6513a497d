"""The vouching feed (docs/federation.md, section 3): the participants a hub speaks for, signed by it.

A compact JWS by the hub's key, `typ` `hub-federation-feed+jwt`, over `{"iss", "iat", "participants"}`.
Each entry names one of the hub's own participants (never a peer hub, never one learnt from a peer) with
the keys a client of that hub would trust (its registration, reset or bound keys, unrevoked) and their
bindings, so a peer can check them by `hub.core.key_chain`'s rule, and (`log`) the hub's log document of
the participant: its directory entries with inclusion proofs to a checkpoint the hub signed, which the
peer keeps so that its clients check each key against this hub's log (`hub.core.home_chain`). A peer
verifies the feed with the publishing hub's key as registered in its own directory, never with a key
the feed or its endpoint offers; a feed that does not verify, or names another issuer, is refused with
the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.core import inputs
from hub.core.jose import JoseError, PrivateSigningJwk, PublicJwk, parse_jws, sign_compact, verify_signature
from hub.core.log_watch import Seen, read_checkpoint

FEED_TYPE = "hub-federation-feed+jwt"
ENTRY_MEMBERS = ("id", "name", "kind", "country", "accepts", "keys")


class FeedError(ValueError):
    """A feed this hub does not take, with the reason."""


@dataclass(frozen=True)
class Feed:
    issuer: str
    issued_at: int
    participants: tuple[Mapping[str, Any], ...]


def sign_feed(
    key: PrivateSigningJwk, *, hub_id: str, issued_at: int, participants: Sequence[Mapping[str, Any]]
) -> str:
    claims = {"iss": hub_id, "iat": issued_at, "participants": [dict(p) for p in participants]}
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return sign_compact(payload, key, {"typ": FEED_TYPE})


def verify_feed(text: str, peer_id: str, peer_keys: Sequence[PublicJwk]) -> Feed:
    """The feed, if one of `peer_keys` (the peer's keys in this hub's directory) signed it as `peer_id`."""
    try:
        jws = parse_jws(text)
    except JoseError as exc:
        raise FeedError(f"not a JWS: {exc}") from None
    if len(jws.signatures) != 1 or jws.signatures[0].protected.get("typ") != FEED_TYPE:
        raise FeedError(f"a feed is a compact JWS with one signature, typ {FEED_TYPE}")
    kid = jws.signatures[0].protected.get("kid")
    key = next((k for k in peer_keys if k.kid == kid), None)
    if key is None:
        raise FeedError(f"the feed is signed by key {str(kid)[:60]!r}, which is no key of '{peer_id}'")
    try:
        verify_signature(jws, jws.signatures[0], key)
    except JoseError:
        raise FeedError(f"the feed's signature does not verify with '{peer_id}''s key") from None
    try:
        claims = inputs.loads(jws.payload, what="the feed")
    except inputs.JsonFault as fault:
        raise FeedError(str(fault)) from None
    if not isinstance(claims, dict) or claims.get("iss") != peer_id:
        raise FeedError(f"the feed is not issued by '{peer_id}'")
    return Feed(peer_id, *_contents(claims))


def _contents(claims: Mapping[str, Any]) -> tuple[int, tuple[Mapping[str, Any], ...]]:
    entries = claims.get("participants")
    issued_at = claims.get("iat")
    if not isinstance(entries, list) or not isinstance(issued_at, int):
        raise FeedError("a feed has 'iat' (seconds) and 'participants' (a list)")
    for entry in entries:
        if not isinstance(entry, dict) or any(m not in entry for m in ENTRY_MEMBERS):
            raise FeedError(f"each participant of a feed has {', '.join(ENTRY_MEMBERS)}")
        if "@" in str(entry["id"]):
            raise FeedError("a hub vouches only for its own participants, never for another hub's")
        if not isinstance(entry.get("log", {}), dict):
            raise FeedError("a participant's 'log' is its log document (an object)")
    return issued_at, tuple(entries)


def feed_heads(feed: Feed, peer_keys: Mapping[str, PublicJwk], kept: Seen | None) -> list[Seen]:
    """The tree heads of the peer's log the feed's log proofs show, with the one this hub kept, in the
    order their consistency is checked (smallest first, each distinct once). LogAlarm if one of the
    feed's is not a checkpoint one of `peer_keys` signed for the peer's own id."""
    logs = [e.get("log") or {} for e in feed.participants]
    signed = {str(log["checkpoint"]) for log in logs if log.get("checkpoint")}
    heads = {read_checkpoint(text, peer_keys, feed.issuer) for text in signed}
    if kept is not None:
        heads.add(kept)
    return sorted(heads, key=lambda seen: (seen.tree_size, seen.root_hash))
