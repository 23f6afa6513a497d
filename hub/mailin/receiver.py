"""`hub mail-in`: an SMTP (or LMTP) receiver for platforms' replies to e-mail notices.

Each reply is taken in one transaction with one recipient (more are deferred with 452, so that the
answer to DATA speaks for exactly one reply address, in SMTP and in LMTP alike). What happens to it:

- the address is not at the hub's reply domain: refused at RCPT (550), not stored;
- the address carries no valid hub token (`adapters.email`): 550 after DATA, stored as `unknown-token`
  (unmatched: at most `HUB_MAILIN_UNMATCHED_MAX_BYTES` of it, deleted after
  `HUB_MAILIN_UNMATCHED_RETENTION_HOURS`);
- the token names a case already purged: 550, only its digest is stored (`case-purged`);
- the signing key of the platform's domain cannot be fetched (DNS timeout): 451, nothing stored, so
  the sending server offers it again later;
- the origin is not authenticated (`hub.core.mail_auth`, from the facts `origin` reads: the strict From,
  DKIM verified with dkimpy, a trusted MX's Authentication-Results): 550, stored as evidence and shown
  on the case timeline (`mail.unauthenticated`, with the fault and the answer it claimed), changing no
  state and no clock. `spoofed-sender` when the From is no registered address (or malformed, or the
  envelope sender null), `unauthenticated` when it is but nothing proves it; the platform is told why
  by e-mail at its registered notice address (never the address the mail claims);
- the first line is no answer (`replies`): 250, stored as `unrecognised`, and a `mail.unrecognised`
  event on the case so the sender sees that something came; the (authenticated) sender is told by
  e-mail why and what to write.

Those answers go through the notices' mail path (`adapters.email.send_mail`), never quote the reply,
are marked `Auto-Submitted: auto-replied`, carry In-Reply-To/References of the reply (so ticket
systems thread them), and are not sent to an automatic mail (no loops); the
timeline event says whether one was sent (`answered_by_mail`). An unknown reply address gets none: no
case, no registered address, only the SMTP refusal.
- an answer: recorded as an acknowledgement or status update that the hub signs on the platform's
  behalf (`hub.services.issuer`), carrying the SHA-256 of the raw e-mail; 250, stored as `accepted` with how
  it was authenticated. A refusal (e.g. `invalid-transition`) is stored under its problem code with a
  `mail.not_applied` event.

The same e-mail delivered again gets the same answer and changes nothing: it is found by its digest
and address, and the attested message's id is derived from them (UUID v5). A database failure answers
451, so the sending server tries again later.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.email import EmailConfig, parse_reply_address, send_mail, tag_matches
from adapters.email_render import answering_headers, render_unreadable_answer
from hub.core.attested_answer import Answer, AnsweredNotice, Evidence, Reading, attested_payload
from hub.core.clock import Clock
from hub.core.jose import sha256_hex
from hub.core.mail_auth import Decision, Fault, SenderPolicy, authenticate
from hub.core.refusal import Refusal
from hub.mailin.headers import parse_headers, strict_from
from hub.mailin.origin import DnsLookup, read_facts
from hub.mailin.replies import read_reply
from hub.services.issuer import Issuer
from hub.settings import MailSettings
from hub.store import mail, messages
from hub.store.case_keys import Keyring
from hub.store.database import Conn
from hub.store.mail import InboundMail, ReplyTarget, TimelineNote

log = structlog.get_logger("hub.mailin")
AIOSMTPD_LOGGER = "mail.log"
ACCEPTED, UNKNOWN_TOKEN, SPOOFED, UNRECOGNISED = "accepted", "unknown-token", "spoofed-sender", "unrecognised"
UNAUTHENTICATED, CASE_PURGED = "unauthenticated", "case-purged"
ANSWERS = {
    UNKNOWN_TOKEN: "550 5.1.1 Unknown reply address: no case of this hub",
    CASE_PURGED: "550 5.1.1 This case's data was deleted at the end of its retention: nothing is kept",
    SPOOFED: "550 5.7.1 The sender may not answer for this case",
    UNAUTHENTICATED: "550 5.7.26 Not authenticated (no aligned DKIM or DMARC pass): kept, not applied",
    ACCEPTED: "250 2.0.0 Answer recorded",
    UNRECOGNISED: "250 2.0.0 Received, but the first line is no answer the hub knows",
}
NOT_APPLIED = "250 2.0.0 Received, not applied to the case"
TEMPORARY = "451 4.3.0 Cannot store the reply now; try again later"
KEY_UNAVAILABLE = "451 4.7.5 The DKIM key of the signing domain cannot be fetched now; try again later"


@dataclass(frozen=True)
class MailIn:
    """What the mail-in server needs of the hub: the one way to issue (an attested answer), the database
    and the case keys that encrypt each stored reply; nothing else of intake."""

    issuer: Issuer
    pool: asyncpg.Pool
    keyring: Keyring
    settings: MailSettings
    clock: Clock
    dns: DnsLookup | None = None  # dkimpy's DNS lookup of DKIM keys; None: the system's resolver


@dataclass(frozen=True)
class Reply:
    """One received e-mail on its way through the checks."""

    raw: bytes
    sha256: str
    rcpt_to: str
    mail_from: str
    received_at: datetime

    def stored(
        self, verdict: str, target: ReplyTarget | None = None, keep: int | None = None, **extra: Any
    ) -> InboundMail:
        """The mail as it is kept: whole, or its first `keep` bytes (none at all with 0)."""
        kept = self.raw if keep is None else (self.raw[:keep] or None)
        return InboundMail(
            id=uuid.uuid4(),
            received_at=self.received_at,
            rcpt_to=self.rcpt_to,
            raw=kept,
            raw_bytes=len(self.raw),
            raw_sha256=self.sha256,
            verdict=verdict,
            recipient_id=target.recipient_id if target else None,
            case_id=target.case_id if target else None,
            **extra,
        )


class ReplyHandler:
    """The aiosmtpd handler: one reply address per transaction, judged after DATA."""

    def __init__(self, mail_in: MailIn) -> None:
        self._mail_in = mail_in

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if envelope.rcpt_tos:
            return "452 4.5.3 One reply address per message; send the others separately"
        _, at, domain = address.rpartition("@")
        if not at or domain.lower() != self._mail_in.settings.reply_domain.lower():
            return "550 5.1.2 Not a reply address of this hub"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not raw:
            raw = envelope.content
        reply = Reply(
            raw, sha256_hex(raw), envelope.rcpt_tos[0], envelope.mail_from or "", self._mail_in.clock()
        )
        try:
            return await take_reply(self._mail_in, reply)
        except Exception as exc:  # a database outage above all: the sender's server keeps the mail
            log.warning("mail.reply_failed", error=exc.__class__.__name__)
            return TEMPORARY


async def start_server(mail_in: MailIn, host: str, port: int, *, lmtp: bool = False) -> asyncio.Server:
    """Listen on the running loop (the database pool lives there too); port 0 picks a free one.

    aiosmtpd's logger (`mail.log`) quotes every command at INFO (MAIL FROM and RCPT TO: addresses) and
    every line of DATA at DEBUG (the mail itself): it is held to warnings (peer and command names only),
    whatever level a deployment gives the standard logging."""
    logging.getLogger(AIOSMTPD_LOGGER).setLevel(logging.WARNING)
    handler = ReplyHandler(mail_in)
    protocol = LMTP if lmtp else SMTP

    def session() -> SMTP:
        return protocol(
            handler,
            hostname=mail_in.settings.reply_domain,
            ident="referral-hub mail-in",
            data_size_limit=mail_in.settings.mailin_max_bytes,
            enable_SMTPUTF8=True,
        )

    return await asyncio.get_running_loop().create_server(session, host, port)


async def take_reply(mail_in: MailIn, reply: Reply) -> str:
    addressed = await _addressed(mail_in, reply)
    if isinstance(addressed, str):
        return addressed
    message_id, target = addressed
    pool, keyring = mail_in.pool, mail_in.keyring
    bound = log.bind(case_id=str(target.case_id), message_id=str(message_id), recipient=target.recipient_id)
    decision = await origin_decision(mail_in, reply, target)
    if decision.temporary:  # the platform's key could not be fetched now: its server tries again later
        bound.info("mail.reply_deferred", fault=str(decision.fault))
        return KEY_UNAVAILABLE
    reading = read_reply(reply.raw).reading
    if not decision.authenticated:
        verdict = SPOOFED if decision.spoofed else UNAUTHENTICATED
        answer_to = _registered_notice_address(target, reply)  # never the address the mail claims
        note = TimelineNote(
            "mail.unauthenticated",
            {
                "evidence_sha256": reply.sha256,
                "fault": str(decision.fault),
                "claimed": str(reading.answer),
                "answered_by_mail": answer_to is not None,
            },
        )
        stored = reply.stored(verdict, target, message_id=message_id, auth=decision.record())
        async with pool.acquire() as conn:
            await mail.record_inbound(conn, stored, note, keyring)
        bound.warning("mail.reply_refused", verdict=verdict, fault=str(decision.fault))
        await _answer_unreadable(mail_in, verdict, target, reply, answer_to, bound)
        return ANSWERS[verdict]
    if reading.answer is Answer.UNRECOGNISED:
        answer_to = None if _automatic(reply) else strict_from(parse_headers(reply.raw))  # authenticated
        note = TimelineNote(
            "mail.unrecognised", {"evidence_sha256": reply.sha256, "answered_by_mail": answer_to is not None}
        )
        stored = reply.stored(UNRECOGNISED, target, message_id=message_id, auth=decision.record())
        async with pool.acquire() as conn:
            await mail.record_inbound(conn, stored, note, keyring)
        bound.info("mail.reply_unrecognised")
        await _answer_unreadable(mail_in, UNRECOGNISED, target, reply, answer_to, bound)
        return ANSWERS[UNRECOGNISED]
    verdict = await _record_answer(mail_in, reply, message_id, target, reading, decision)
    bound.info("mail.reply_taken", verdict=verdict, authenticated_by=decision.method)
    return ANSWERS.get(verdict, NOT_APPLIED)


def _automatic(reply: Reply) -> bool:
    """An automatic mail (RFC 3834 Auto-Submitted other than 'no'): never answered, so no mail loop."""
    value = str(parse_headers(reply.raw).get("Auto-Submitted", "no")).strip().lower()
    return value.split(";")[0].strip() != "no"


def _registered_notice_address(target: ReplyTarget, reply: Reply) -> str | None:
    if _automatic(reply):
        return None
    try:
        return EmailConfig.from_mapping(target.adapter_config, None).to
    except ValueError:  # the participant no longer takes e-mail
        return None


async def _answer_unreadable(
    mail_in: MailIn, why: str, target: ReplyTarget, reply: Reply, to: str | None, bound: Any
) -> None:
    """Tell the platform by e-mail why its reply was not read and what to write (never quoting it),
    through the notices' mail path. A failure to send is logged (its class only) and changes nothing."""
    if to is None:
        return
    settings = mail_in.settings
    try:
        language = EmailConfig.from_mapping(target.adapter_config, None).language
    except ValueError:
        language = "en"
    try:
        headers = parse_headers(reply.raw)
        answer = render_unreadable_answer(
            why,
            target.case_id,
            to,
            language,
            settings,
            reply.rcpt_to,
            mail_in.clock(),
            answering_headers(headers.get("Message-ID"), headers.get("References")),
        )
        outcome = await send_mail(settings, answer, settings.smtp_password())
    except Exception as exc:  # the reply is stored either way: the answer is a courtesy
        bound.warning("mail.answer_failed", error=exc.__class__.__name__)
        return
    bound.info("mail.answer_sent", why=why, outcome=str(outcome.verdict))


async def _addressed(mail_in: MailIn, reply: Reply) -> str | tuple[UUID, ReplyTarget]:
    """The message and recipient the reply address names, or the answer already due: the same mail
    seen before, an unknown address (kept small, and briefly: retention), a purged case (its digest only)."""
    async with mail_in.pool.acquire() as conn:
        prior = await mail.find_inbound(conn, reply.sha256, reply.rcpt_to)
        if prior is not None:  # delivered again: same answer, nothing changes
            return ANSWERS.get(prior.verdict, NOT_APPLIED)
        found = await _target(mail_in, conn, reply.rcpt_to)
        if found is None:
            unmatched = reply.stored(UNKNOWN_TOKEN, keep=mail_in.settings.mailin_unmatched_max_bytes)
            await mail.record_inbound(conn, unmatched, keyring=mail_in.keyring)
            log.info("mail.reply_refused", verdict=UNKNOWN_TOKEN)
            return ANSWERS[UNKNOWN_TOKEN]
        message_id, target = found
        if target.purged:
            await mail.record_inbound(conn, reply.stored(CASE_PURGED, target, keep=0, message_id=message_id))
            log.info("mail.reply_refused", verdict=CASE_PURGED, case_id=str(target.case_id))
            return ANSWERS[CASE_PURGED]
    return found


async def origin_decision(mail_in: MailIn, reply: Reply, target: ReplyTarget) -> Decision:
    """Whether the reply is the platform's own (`hub.core.mail_auth`); DKIM runs in a thread (DNS)."""
    try:
        config = EmailConfig.from_mapping(target.adapter_config, None)
    except ValueError:  # the participant no longer takes e-mail: nobody may answer for it this way
        return Decision(False, fault=Fault.SENDER_NOT_REGISTERED)
    settings = mail_in.settings
    facts = await asyncio.to_thread(
        read_facts,
        reply.raw,
        reply.mail_from,
        reply.rcpt_to,
        config.dkim_keys,
        mail_in.dns,
        settings.mailin_dns_timeout_seconds,
    )
    policy = SenderPolicy(
        registered=frozenset(a.lower() for a in config.reply_from),
        pins_keys=bool(config.dkim_keys),
        trusted_authserv_ids=settings.trusted_authserv_ids,
    )
    return authenticate(facts, policy)


async def _target(mail_in: MailIn, conn: Conn, rcpt_to: str) -> tuple[UUID, ReplyTarget] | None:
    parsed = parse_reply_address(rcpt_to, mail_in.settings.reply_domain)
    if parsed is None:
        return None
    message_id, tag = parsed
    key = mail_in.issuer.hub.key
    for target in await mail.reply_targets(conn, message_id):
        if tag_matches(key, message_id, target.recipient_id, tag):
            return message_id, target
    return None


async def _record_answer(
    mail_in: MailIn, reply: Reply, message_id: UUID, target: ReplyTarget, reading: Reading, decision: Decision
) -> str:
    from_address = strict_from(parse_headers(reply.raw)) or ""  # authenticated: a registered address
    notice = AnsweredNotice(
        message_id, target.recipient_id, target.case_id, target.originator, target.delivered_at
    )
    evidence = Evidence("email", reply.sha256, reply.received_at, from_address)
    payload = attested_payload(mail_in.issuer.hub.hub_id, notice, reading, evidence)
    attested_id = UUID(payload["id"])
    async with mail_in.pool.acquire() as conn:
        already = await messages.find_identity(conn, attested_id) is not None
    verdict = ACCEPTED
    note: TimelineNote | None = None
    recorded_id: UUID | None = attested_id
    if not already:  # (a crash after recording the answer and before storing the mail: it is there)
        try:
            await mail_in.issuer.issue(payload, reply.received_at)
        except Refusal as refusal:
            if refusal.code != "duplicate-id":  # else this very mail was recorded meanwhile, concurrently
                verdict, recorded_id = refusal.code, None
                note = TimelineNote("mail.not_applied", {"problem": refusal.code})
    stored = reply.stored(
        verdict, target, message_id=message_id, recorded_message_id=recorded_id, auth=decision.record()
    )
    async with mail_in.pool.acquire() as conn:
        await mail.record_inbound(conn, stored, note, mail_in.keyring)
    return verdict
