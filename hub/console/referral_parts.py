"""A new takedown request to several platforms, sent from the console as one signed message per platform.

Each platform may see only the content on its own service (docs/wire-contract.md, "A fan-out is one
message per platform"), so the request a person writes in the form is split by the client library's rule
(`hub.client.fanout.split_referral`): each item goes to the chosen platform whose registered domains
serve its URL, and recipients that are no platform (a regulator, a hotline) ride with the first part.
Each part is sealed to its own recipients only, signed and submitted in turn: the first opens the case,
each further one names it in `case`. A form to one platform, and every other form, is one part.

A retry is the same messages, never a second case: the parts' ids are fixed by the form's message id
(its token) and the platform; a part the hub accepted is in the archive and is not sent again; a part
signed but not accepted is resubmitted as the same bytes (the gateway remembers it by id and form
fingerprint), so the hub answers it with its first receipt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog

from hub.client import HubError
from hub.client.envelope import sign_message
from hub.client.fanout import FanOutError, split_referral
from hub.console.archive import Kept
from hub.console.form_data import replace_sealed
from hub.console.gateway import HubGateway
from hub.console.sealing import NoEncryptionKeyError, encryption_key, seal_to
from hub.core.jose import PrivateSigningJwk
from hub.core.wording import DEFAULT_LANGUAGE
from hub.wording import load_wording

log = structlog.get_logger("hub.console")


class UnsplittableError(Exception):
    """An item of the request is on none of the chosen platforms (by their registered domains), or a
    chosen platform has no item on its service (`pointer` is then `/to`)."""

    def __init__(self, pointer: str, platforms: Sequence[str] = ()) -> None:
        super().__init__(
            f"no item of this request is on the service of {', '.join(platforms)} (by the domains it"
            " registered): each platform is sent only its own items, so take it out of the recipients or"
            " send its items in a request of its own"
            if pointer == "/to"
            else "the console cannot tell which of the chosen platforms this item is on (a platform is"
            " told only of the items on its own service, found by the domains it registered): send it"
            " to its platform in a request of its own"
        )
        self.pointer = pointer


async def parts_of(gateway: HubGateway, envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages the form's envelope is sent as: one per platform for a new takedown request."""
    if envelope.get("type") != "takedown-request" or envelope.get("case"):
        return [envelope]
    try:
        return split_referral(envelope, await gateway.participants(), str(envelope["id"]))
    except FanOutError as exc:
        raise UnsplittableError(exc.pointer, exc.platforms) from None


async def accepted_before(gateway: HubGateway, parts: Sequence[dict[str, Any]]) -> list[Kept | None]:
    """Each part as this console kept it when the hub accepted it, or None if it was not sent yet."""
    return [await asyncio.to_thread(gateway.archive.sent, str(part["id"])) for part in parts]


async def sealed(gateway: HubGateway, envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope with every sealed value sealed to each of its own recipients' keys."""
    keys = []
    for recipient in envelope["to"]:
        try:
            entry = await gateway.participant(recipient)
        except HubError:
            raise NoEncryptionKeyError(recipient) from None
        keys.append((recipient, encryption_key(recipient, entry)))
    return dict(replace_sealed(envelope, lambda marker: seal_to(marker.plaintext, keys)))


async def send_parts(
    gateway: HubGateway,
    key: PrivateSigningJwk,
    parts: Sequence[dict[str, Any]],
    fingerprint: str,
    receipts: list[dict[str, Any]],
) -> None:
    """Seal, sign and submit each part not accepted before, appending one receipt per part to `receipts`
    (so that, when one fails, the caller knows which were accepted). Raises SealingError, HubError, or
    the client's connection errors."""
    case_id: str | None = None
    for part, kept in zip(parts, await accepted_before(gateway, parts), strict=True):
        if kept is not None:
            receipts.append(
                {"message_id": kept.message_id, "case_id": kept.case_id, "accepted_at": kept.accepted_at}
            )
            case_id = case_id or kept.case_id
            continue
        envelope = part if case_id is None else {**part, "case": case_id}
        signed = gateway.signed_before(str(envelope["id"]), fingerprint)
        if signed is None:
            signed = sign_message(await sealed(gateway, envelope), key)
            gateway.remember(str(envelope["id"]), fingerprint, signed)
            log.info("console.message_signed", message_id=envelope["id"], message_type=envelope["type"])
        receipt = await gateway.submit(envelope, signed)
        case_id = case_id or str(receipt["case_id"])
        receipts.append(receipt)


PARTLY_SENT = " The parts for {platforms} were accepted under case {case}; send again to send the rest: a part that was accepted is not sent twice."  # noqa: E501


def partly_sent(
    parts: Sequence[dict[str, Any]], receipts: Sequence[dict[str, Any]], language: str = DEFAULT_LANGUAGE
) -> str:
    """What to add when a part failed after others were accepted: which, under which case."""
    if len(parts) == 1 or not receipts:
        return ""
    sent = ", ".join(str(part["to"][0]) for part in parts[: len(receipts)])
    case = str(receipts[0]["case_id"])[:8]
    return load_wording().say(language, PARTLY_SENT, platforms=sent, case=case)
