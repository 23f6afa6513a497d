"""What a hub vouches for: its vouching feed (`hub.core.vouching_feed`), built from its directory, and
the check of a peer's feed against the peer's keys in this hub's directory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hub.core.home_chain import feed_key_fault
from hub.core.hub_identity import HubIdentity
from hub.core.jose import BadSignatureError, PublicJwk, verify_signature
from hub.core.refusal import Refusal
from hub.core.vouching_feed import Feed, FeedError, sign_feed, verify_feed
from hub.services.bindings import TRUSTED_ORIGINS
from hub.services.directory_log import log_document
from hub.services.intake import parse_submission, payload_object
from hub.store import directory
from hub.store.database import Conn


async def own_feed(conn: Conn, hub: HubIdentity, issued_at: int) -> str:
    """The hub's signed feed: its own participants (not the hubs) with the keys its clients trust."""
    entries: list[dict[str, Any]] = []
    for participant in await directory.list_participants(conn):
        if participant.kind == "hub" or "@" in participant.id:  # a peer, or a peer's participant
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
                # the home hub's log proof of these keys (issue 18's key proof), for the peer's clients
                "log": await log_document(conn, participant.id),
            }
        )
    return sign_feed(hub.key, hub_id=hub.hub_id, issued_at=issued_at, participants=entries)


async def peer_feed(conn: Conn, peer_id: str, text: str) -> Feed:
    """A peer's feed, verified with the peer's signing keys as this hub's directory holds them."""
    peer = await directory.get_participant(conn, peer_id)
    if peer is None or peer.kind != "hub":
        raise FeedError(f"'{peer_id}' is not a registered peer hub")
    return verify_feed(text, peer_id, await _peer_keys(conn, peer_id))


async def _peer_keys(conn: Conn, peer_id: str) -> list[PublicJwk]:
    return [
        PublicJwk.from_dict(k.jwk)
        for k in await directory.keys_of(conn, peer_id)
        if k.use == "sig" and k.revoked_at is None
    ]


async def peer_signing_keys(conn: Conn | asyncpg.Pool, peer_id: str, at: datetime) -> list[PublicJwk]:
    """A peer hub's signing keys valid at `at`, as this hub's directory holds them: what the peer's
    receipts must be signed with (docs/federation.md, section 4)."""
    return [
        PublicJwk.from_dict(k.jwk)
        for k in await directory.keys_of(conn, peer_id)
        if k.use == "sig" and k.problem_at(at) is None
    ]


async def mirror_feed(conn: Conn, feed: Feed, at: datetime) -> list[str]:
    """Mirror a verified peer feed into this hub's directory: each entry becomes `<id>@<peer>` (home hub
    the peer) with the keys listed (origin 'feed') and the peer's log proof of them (`log`, kept as the
    entry's home proof: what clients check the keys by, `hub.core.home_chain`); a key no longer listed,
    and every key of a participant no longer listed, is revoked, so nothing more is taken in its name.
    A feed whose log proof contradicts the keys it lists is refused whole (`feed_key_fault`).
    Returns the global ids listed."""
    listed: list[str] = []
    peer_keys = {k.kid: k for k in await _peer_keys(conn, feed.issuer)}
    async with conn.transaction():
        for entry in feed.participants:
            global_id = f"{entry['id']}@{feed.issuer}"
            fault = feed_key_fault(global_id, entry["keys"], entry.get("log"), peer_keys)
            if fault is not None:
                raise FeedError(f"the entry of '{global_id}' contradicts its home hub's log: {fault}")
            if await directory.upsert_federated(conn, global_id, entry, feed.issuer) is None:
                raise FeedError(
                    f"'{global_id}' is already in the directory, not as a participant of the peer"
                )
            kids = [str(k["jwk"]["kid"]) for k in entry["keys"]]
            for key in entry["keys"]:
                held = await directory.get_key(conn, str(key["jwk"]["kid"]))
                if held is None:
                    await directory.add_mirrored_key(conn, global_id, key, feed.issuer, at)
                elif held.participant_id != global_id:
                    raise FeedError(f"the feed gives '{global_id}' a kid this directory holds for another")
            await directory.revoke_keys_not_in(conn, global_id, kids, "dropped from its home hub's feed")
            await directory.set_home_proof(conn, global_id, entry.get("log"))
            listed.append(global_id)
        for gone in set(await directory.federated_participants_of(conn, feed.issuer)) - set(listed):
            await directory.revoke_keys_not_in(conn, gone, [], "no longer in its home hub's feed")
    return listed


async def vouched_sender(conn: Conn, peer_id: str, raw: bytes, at: datetime) -> str:
    """The global id of the sender of a message `peer_id` forwards (docs/federation.md, section 4, checks
    2 to 4), if the peer vouches for it and its signature verifies with a key the peer's feed gave; else
    the refusal. The bytes are read, never changed: the sender's signature is the one it made."""
    jws = parse_submission(raw)
    sender = payload_object(jws).get("from")
    if not isinstance(sender, str) or "@" in sender:
        raise Refusal(
            "sender-not-vouched", f"'{peer_id}' speaks only for its own participants, not for another hub's"
        )
    global_id = f"{sender}@{peer_id}"
    entry = await directory.get_participant(conn, global_id)
    if entry is None:
        raise Refusal("sender-not-vouched", f"'{peer_id}' does not vouch for a participant '{sender}'")
    key = await directory.get_key(conn, jws.signatures[0].kid)
    if key is None or key.use != "sig" or key.participant_id != global_id:
        raise Refusal("sender-not-vouched", f"the message is not signed by a key '{peer_id}' vouches for")
    problem = key.problem_at(at)
    if problem is not None:
        raise Refusal("key-not-valid", f"the signing key is {problem}")
    try:
        verify_signature(jws, jws.signatures[0], PublicJwk.from_dict(key.jwk))
    except BadSignatureError:
        raise Refusal("bad-signature", "the signature does not verify with the key the kid names") from None
    return global_id
