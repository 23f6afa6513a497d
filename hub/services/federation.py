"""Receiving a message a peer hub forwards: `POST /v1/federation/messages` (docs/federation.md, section 4).

The checks run in the contract's order, each with its problem: (1) the caller is a registered peer (kind
`hub`), (2) `message` is a one-signature JWS of a valid envelope, (3, 4) its sender is one the peer
vouches for and its untouched signature verifies with a key the peer's feed gave
(`hub.services.vouching.vouched_sender`; a message the peer hub issued itself, `from` the peer, is
checked against the peer's own key and must concern one of the peer's participants on the case:
`_peer_itself`), (5) the peer's receipt for it verifies with the peer's key and
names it, (6) its recipients here are this hub's own participants, by their global ids (others, of
other hubs, are forwarded to by their own hubs). Only then is it
read in this hub's namespace (`from` becomes `<from>@<peer>`, `<x>@<this hub>` becomes `<x>`; the signed
bytes are never rewritten) and taken by intake like any message (`hub.services.intake.record_forwarded`),
with the hop, the peer's receipt, on the case's timeline in the same transaction. A refusal stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from hub.core.admission import HUB_ISSUED_TYPES
from hub.core.envelope import Envelope
from hub.core.global_id import global_id, home_hub_of, local_on
from hub.core.jose import BadSignatureError, ParsedJws, PublicJwk, sha256_hex, verify_signature
from hub.core.receipt import ReceiptError, verify_receipt
from hub.core.refusal import Refusal
from hub.services.intake import (
    Accepted,
    Intake,
    parse_submission,
    payload_object,
    record_forwarded,
    validated_envelope,
)
from hub.services.vouching import peer_signing_keys, vouched_sender
from hub.store import directory, messages
from hub.store.database import Conn
from hub.store.messages import Hop, SignedMessage


async def receive_forwarded(
    intake: Intake, caller: str, body: Mapping[str, Any], received_at: datetime
) -> Accepted:
    """Check a forwarding from `caller` and take its message; B's receipt, or the Refusal."""
    pool = intake.pool
    await check_peer(pool, caller)
    raw, peer_receipt = body.get("message"), body.get("receipt")
    if not isinstance(raw, str):
        raise Refusal("malformed-jws", "'message' must be the exact signed form, a JWS as a string")
    signed_form = raw.encode()
    jws = parse_submission(signed_form)
    payload = payload_object(jws)
    if "attestation" in payload:
        raise Refusal("hub-only-type", "only a hub marks a message as hub-attested, for its own hub")
    envelope = validated_envelope(intake.catalog, payload)
    async with pool.acquire() as conn:
        if envelope.sender == caller and envelope.type in HUB_ISSUED_TYPES:
            sender = await _peer_itself(conn, caller, jws, envelope, received_at)
        else:
            sender = await vouched_sender(conn, caller, signed_form, received_at)
        keys = await peer_signing_keys(conn, caller, received_at)
        digest = sha256_hex(jws.payload)
        if not isinstance(peer_receipt, str):
            raise Refusal("invalid-hop-receipt", "'receipt' must be the forwarding hub's receipt (a JWS)")
        try:
            claims = verify_receipt(
                peer_receipt, issuer=caller, keys=keys, message_id=envelope.id, payload_sha256=digest
            )
            case_id = UUID(str(claims.get("case_id")))
        except ReceiptError as exc:
            raise Refusal("invalid-hop-receipt", str(exc)) from None
        except ValueError:
            raise Refusal("invalid-hop-receipt", "the forwarding hub's receipt names no case id") from None
        recipients = await _own_recipients(conn, intake.hub.hub_id, envelope.to)
    signed = SignedMessage(
        replace(envelope, sender=sender, to=recipients),
        jws.signatures[0].kid,
        signed_form,
        digest,
        received_at,
        received_from=Hop(caller, peer_receipt, case_id),
    )
    return await record_forwarded(intake, signed)


async def _peer_itself(conn: Conn, caller: str, jws: ParsedJws, envelope: Envelope, at: datetime) -> str:
    """Checks 3 and 4 for a message the peer hub issued itself (a `clock-result`, an `escalation`: docs/
    federation.md, section 6): signed by a valid key of the peer's own entry, and about a participant the
    peer vouches for that is a party to the case here (a hub reports only its own participants' clocks)."""
    key = await directory.get_key(conn, jws.signatures[0].kid)
    if key is None or key.use != "sig" or key.participant_id != caller:
        raise Refusal("sender-not-vouched", f"a message from '{caller}' itself is signed by its own key")
    problem = key.problem_at(at)
    if problem is not None:
        raise Refusal("key-not-valid", f"the signing key is {problem}")
    try:
        verify_signature(jws, jws.signatures[0], PublicJwk.from_dict(key.jwk))
    except BadSignatureError:
        raise Refusal("bad-signature", "the signature does not verify with the key the kid names") from None
    about = envelope.body.get("recipient")
    subject = global_id(about, caller) if isinstance(about, str) and "@" not in about else None
    entry = await directory.get_participant(conn, subject) if subject is not None else None
    case = await messages.load_case(conn, envelope.case) if envelope.case is not None else None
    if entry is None or entry.home_hub != caller or case is None or subject not in case.parties:
        raise Refusal(
            "sender-not-vouched", f"'{caller}' speaks only of its own participants' clocks on this case"
        )
    return caller


async def check_peer(pool: asyncpg.Pool, caller: str) -> None:
    """Check 1: the caller is a registered peer hub (kind `hub`), else not-a-peer."""
    peer = await directory.get_participant(pool, caller)
    if peer is None or peer.kind != "hub":
        raise Refusal("not-a-peer", "only a registered peer hub forwards messages to this hub")
    if await directory.peer_log_alarm_of(pool, caller) is not None:  # docs/federation.md, section 3
        raise Refusal(
            "not-a-peer", f"this hub no longer takes forwardings from '{caller}': its log was rewritten"
        )


async def _own_recipients(conn: Conn, hub_id: str, named: tuple[str, ...]) -> tuple[str, ...]:
    """Check 6: the local ids of the recipients a forwarded message names as `<x>@<this hub>`, each this
    hub's own participant (not a peer, not a peer's). A message to recipients on several hubs is forwarded
    to each of their hubs, so the others may be named too, each by its global id on another hub: this hub
    takes it for its own recipients only. not-for-this-hub unless one at least is this hub's and every
    other is another hub's."""
    own = tuple(x for x in (local_on(r, hub_id) for r in named) if x is not None)
    elsewhere = [r for r in named if local_on(r, hub_id) is None]
    if not own or any(home_hub_of(r) in (None, hub_id) for r in elsewhere):
        raise Refusal(
            "not-for-this-hub",
            f"a forwarded message names its recipients here as '{global_id('<id>', hub_id)}', and others"
            " by their global ids on their own hubs",
        )
    found = await directory.get_participants(conn, list(own))
    strangers = [r for r in own if r not in found or found[r].kind == "hub"]
    if strangers:
        raise Refusal("not-for-this-hub", f"{len(strangers)} recipient(s) are no participant of this hub")
    return own
