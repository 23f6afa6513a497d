"""ROOST Coop action callbacks as the platform's answer: `POST /v1/coop/{participant_id}/actions`.

A platform whose referrals reach its Coop review queue (`adapters.coop`) configures this URL as the
callback of the Coop actions that answer a referral (in Coop: Settings, Actions, the action's callback
URL), and maps those actions to answers in its adapter configuration (`actions`: Coop action id ->
`acknowledged`, `removed`, `declined` or `deleted`). Coop POSTs, for each decision
(roostorg/coop `docs/api/actions.md`; the body is built in `server/rule_engine/ActionPublisher.ts`):

    {"item": {"id": <the report's item id: the message id>, "typeId", "typeName"}, "action": {"id"},
     "policies": [...], "rules": [...], "custom": {...}, "actorEmail"?, "actorNote"?, "creator"?,
     "decisionReason"?, "userStrikeCount"?}

signed over the raw body (`hub.core.coop_signature`). What happens to a callback:

- the participant has no `coop` adapter: `not-found`, nothing stored;
- no key registered, no `coop-signature` header, or a signature that does not verify with the key the
  platform registered: `coop-signature-invalid` (403), **nothing stored**, nothing on the case, and the
  body is never read further nor logged;
- the body is no Coop action, the action is not mapped to an answer, a decline gives no reason of 10 to
  5,000 characters (`decisionReason`, else `custom.reason`, else `actorNote`): `coop-callback-unreadable`
  (422), nothing stored;
- the item is no message delivered to this platform through Coop: `unknown-message` (422); its case was
  purged: `case-purged` (410); nothing stored;
- otherwise the answer is recorded as a message `from` the platform, signed by the hub and marked with an
  `attestation` (channel `coop`, the SHA-256 of the raw body), by the one path every hub-attested answer
  takes (`hub.core.attested_answer`, `hub.services.issuer`, as for e-mailed answers), and the body is kept
  encrypted as its evidence (`hub.store.coop`). `200` with the hub's receipt. An answer the case does not
  allow (e.g. a second removal) is kept as evidence with a `coop.not_applied` event and refused with
  its problem (e.g. `invalid-transition`, 409).

The same body again (Coop retries a callback answered 5xx) is the same answer: the attested message's id
is derived from its digest, and a repeat changes nothing. Coop does not retry a 4xx.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from adapters.base import AdapterConfigError
from adapters.coop import CoopConfig
from hub.core import inputs
from hub.core.attested_answer import (
    MAX_REASON,
    MIN_REASON,
    Answer,
    AnsweredNotice,
    Evidence,
    Reading,
    attested_payload,
)
from hub.core.coop_signature import load_coop_key, signature_verifies
from hub.core.jose import sha256_hex
from hub.core.refusal import Refusal
from hub.services.issuer import Issuer
from hub.store import coop, messages
from hub.store.case_keys import Keyring

log = structlog.get_logger("hub.coop")
ACCEPTED = "accepted"


@dataclass(frozen=True)
class CoopCallbacks:
    """What taking a callback needs of the hub: the one way to issue, the database, the case keys."""

    issuer: Issuer
    pool: asyncpg.Pool
    keyring: Keyring | None


@dataclass(frozen=True)
class TakenCallback:
    message_id: UUID  # the hub-attested answer
    case_id: UUID
    receipt: str | None  # None when the answer was recorded by an earlier delivery of the same callback


@dataclass(frozen=True)
class CoopAction:
    message_id: UUID
    action_id: str
    reading: Reading


def read_action(body: Any, config: CoopConfig) -> CoopAction:
    """The answer a verified callback gives (pure); `coop-callback-unreadable` when it gives none."""

    def unreadable(why: str) -> Refusal:
        return Refusal("coop-callback-unreadable", why)

    if not isinstance(body, dict):
        raise unreadable("a Coop action callback is a JSON object")
    item, action = body.get("item"), body.get("action")
    item_id = item.get("id") if isinstance(item, dict) else None
    action_id = action.get("id") if isinstance(action, dict) else None
    if not isinstance(action_id, str) or not action_id:
        raise unreadable("the callback names no Coop action (action.id)")
    try:
        message_id = UUID(str(item_id))
    except ValueError:
        raise unreadable("the callback's item.id is no message id of this hub") from None
    answer = config.answers.get(action_id)
    if answer is None:
        raise unreadable("this Coop action is not mapped to an answer in the platform's 'actions'")
    if answer != Answer.DECLINED:
        return CoopAction(message_id, action_id, Reading(Answer(answer)))
    custom = body.get("custom")
    for reason in (
        body.get("decisionReason"),
        custom.get("reason") if isinstance(custom, dict) else None,
        body.get("actorNote"),
    ):
        if isinstance(reason, str) and MIN_REASON <= len(reason.strip()) <= MAX_REASON:
            return CoopAction(message_id, action_id, Reading(Answer.DECLINED, reason.strip()))
    raise unreadable(f"a decline needs a reason of {MIN_REASON} to {MAX_REASON} characters (decisionReason)")


async def _verified_config(
    callbacks: CoopCallbacks, participant_id: str, raw: bytes, header: str | None
) -> CoopConfig:
    async with callbacks.pool.acquire() as conn:
        destination = await coop.destination_of(conn, participant_id)
    if destination is None or destination.adapter != "coop":
        raise Refusal("not-found", "no participant of this hub answers through Coop at this address")
    try:
        config = CoopConfig.from_mapping(destination.config, None)
    except AdapterConfigError:
        config = None
    if config is None or config.signature_key is None:
        raise Refusal("coop-signature-invalid", "the platform registered no Coop key to verify with")
    if not signature_verifies(load_coop_key(config.signature_key), raw, header):
        raise Refusal(
            "coop-signature-invalid",
            "the coop-signature header is no RSA-SHA256 signature of this body by the platform's Coop key",
        )
    return config


async def take_callback(
    callbacks: CoopCallbacks, participant_id: str, raw: bytes, signature: str | None, received_at: datetime
) -> TakenCallback:
    """Check and take one callback (see the module's text); raises Refusal for every refusal."""
    config = await _verified_config(callbacks, participant_id, raw, signature)
    try:
        body = inputs.loads(raw, what="the Coop callback")
    except inputs.JsonFault as fault:
        raise Refusal(fault.code, str(fault)) from None
    action = read_action(body, config)
    digest = sha256_hex(raw)
    async with callbacks.pool.acquire() as conn:
        target = await coop.callback_target(conn, action.message_id, participant_id)
        prior = await coop.find_callback(conn, digest, participant_id)
    if target is None:
        raise Refusal("unknown-message", "the callback's item is no message this hub reported to this Coop")
    bound = log.bind(case_id=str(target.case_id), message_id=str(action.message_id), recipient=participant_id)
    if target.purged:
        raise Refusal("case-purged", "this case's data was deleted at the end of its retention")
    if prior is not None:  # received again: the same answer, nothing changes
        bound.info("coop.callback_repeated", verdict=prior.verdict)
        if prior.recorded_message_id is None:
            raise Refusal(prior.verdict, "this callback was received before and not applied to the case")
        return TakenCallback(prior.recorded_message_id, target.case_id, None)
    notice = AnsweredNotice(
        action.message_id, participant_id, target.case_id, target.originator, target.delivered_at
    )
    payload = attested_payload(
        callbacks.issuer.hub.hub_id, notice, action.reading, Evidence("coop", digest, received_at)
    )
    return await _record(callbacks, raw, action, notice, payload, received_at, bound)


async def _record(
    callbacks: CoopCallbacks,
    raw: bytes,
    action: CoopAction,
    notice: AnsweredNotice,
    payload: dict[str, Any],
    received_at: datetime,
    bound: Any,
) -> TakenCallback:
    attested_id = UUID(payload["id"])
    async with callbacks.pool.acquire() as conn:
        already = await messages.find_identity(conn, attested_id) is not None
    receipt: str | None = None
    refusal: Refusal | None = None
    if not already:  # (a crash after recording the answer and before keeping the callback: it is there)
        try:
            receipt = (await callbacks.issuer.issue(payload, received_at)).receipt
        except Refusal as exc:
            if exc.code != "duplicate-id":  # else this very callback was recorded meanwhile, concurrently
                refusal = exc
    kept = coop.CoopCallback(
        id=uuid.uuid4(),
        received_at=received_at,
        recipient_id=notice.recipient_id,
        case_id=notice.case_id,
        message_id=notice.message_id,
        coop_action_id=action.action_id,
        raw=raw,
        raw_sha256=payload["attestation"]["evidence_sha256"],
        verdict=ACCEPTED if refusal is None else refusal.code,
        recorded_message_id=None if refusal is not None else attested_id,
    )
    note: tuple[str, dict[str, object]] | None = None
    if refusal is not None:
        note = ("coop.not_applied", {"problem": refusal.code})
    async with callbacks.pool.acquire() as conn:
        await coop.record_callback(conn, kept, callbacks.keyring, note)
    if refusal is not None:
        bound.info("coop.callback_not_applied", problem=refusal.code)
        raise refusal
    bound.info("coop.callback_taken", answer=str(action.reading.answer), attested_id=str(attested_id))
    return TakenCallback(attested_id, notice.case_id, receipt)
