"""E-mail: send a referral to a platform's abuse mailbox as a human-readable notice, over SMTP.

Many platforms have no API, only an abuse@ address. The notice (plain text and HTML, per language, see
`email_render`) states who sends what on which case, the content locators, the laws that apply and how
to answer; the exact signed message (`message.jws`) and the hub's receipt (`receipt.jws`) travel as
`application/jose` attachments, so the e-mail carries the same proof as a webhook. Sealed fields stay
sealed: the hub cannot read them and says so. The subject is generic: no URL, no name.

The reply address carries a case token, `case+<message id hex>.<tag>@<reply domain>`: `tag` is the
first 16 bytes of the hub's Ed25519 signature over the message id and the recipient (Ed25519 is
deterministic), in lower-case base32, so it survives mail systems that fold the case of addresses and
fits the 64-octet local part. `hub mail-in` recomputes it to map a reply to the message and recipient
without a table, and no one without the hub's key can forge one. Rotating the hub key invalidates the
tokens of notices sent before.

Who may answer: `reply_from` (default: `to`) lists the addresses a reply may come from; `dkim_keys`
optionally pins the DKIM keys that sign them (`{"domain", "selector", "record"}`, the record as the
platform publishes it in DNS, `v=DKIM1; k=...; p=...`). A platform that pins keys is authenticated by
them alone (`hub.core.mail_auth`).

SMTP transport is the hub's (`MailSettings`), not the destination's. Outcomes: accepted by the server
is delivered; connection failures, timeouts and 4xx replies are retried; a 5xx refusal of the
recipient or of the content is permanent; a refused login or a server unfit for our settings (no
STARTTLS) needs an operator. Addresses are never logged nor put in a detail.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, ClassVar, TypeGuard
from uuid import UUID

import aiosmtplib
import dkim

from adapters.base import AdapterConfigError, AdapterContext, Destination, OutboundMessage, no_extra_keys
from adapters.email_render import languages, render_notice
from hub.core.delivery_outcome import DeliveryOutcome, Verdict
from hub.core.jose import PrivateSigningJwk
from hub.core.mail_auth import aligned
from hub.settings import MailSettings

# A plausible address, deliberately narrower than RFC 5322 (no quoted local parts, no comments, no
# whitespace): it goes into headers, so nothing that could break out of one may pass.
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}))*")
MAX_PINNED_KEYS = 10
_TAG_BYTES = 16
_REPLY_LOCAL = re.compile(r"^case\+([0-9a-f]{32})\.([a-z2-7]{26})$")


def plausible_address(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) <= 254 and _ADDRESS.fullmatch(value) is not None


@dataclass(frozen=True)
class PinnedDkimKey:
    """A DKIM public key the participant pinned: its signing domain, selector and key record."""

    domain: str
    selector: str
    record: str

    @classmethod
    def from_mapping(cls, data: object, reply_from: tuple[str, ...]) -> PinnedDkimKey:
        if not isinstance(data, Mapping):
            raise AdapterConfigError("each of 'dkim_keys' must be an object: domain, selector, record")
        no_extra_keys(data, {"domain", "selector", "record"})
        domain, selector, record = data.get("domain"), data.get("selector"), data.get("record")
        if not isinstance(domain, str) or len(domain) > 253 or not _DOMAIN.fullmatch(domain):
            raise AdapterConfigError("a pinned DKIM key's 'domain' must be a domain name")
        if not any(aligned(domain, a.rpartition("@")[2]) for a in reply_from):
            raise AdapterConfigError("a pinned DKIM key's 'domain' must be of an address in 'reply_from'")
        if not isinstance(selector, str) or len(selector) > 200 or not _SELECTOR.fullmatch(selector):
            raise AdapterConfigError("a pinned DKIM key's 'selector' must be a DKIM selector")
        if not isinstance(record, str) or not record.isascii() or not _key_record(record):
            raise AdapterConfigError(
                "a pinned DKIM key's 'record' must be a DKIM key record (v=DKIM1; k=rsa|ed25519; p=...)"
            )
        return cls(domain.lower(), selector, record)


def _key_record(record: str) -> bool:
    try:
        key, _, _, _ = dkim.evaluate_pk(b"pinned", record.encode("ascii"))
    except Exception:  # dkimpy raises several kinds for a record it cannot read
        return False
    return key is not None


@dataclass(frozen=True)
class EmailConfig:
    to: str
    language: str = "en"
    reply_from: tuple[str, ...] = ()
    dkim_keys: tuple[PinnedDkimKey, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], endpoint: str | None) -> EmailConfig:
        no_extra_keys(data, {"to", "language", "reply_from", "dkim_keys"})
        to = data.get("to")
        if not plausible_address(to):
            raise AdapterConfigError("'to' must be the platform's abuse mailbox, an e-mail address")
        language = data.get("language", "en")
        if language not in languages():
            raise AdapterConfigError(f"'language' must be one of {', '.join(languages())}")
        reply_from = data.get("reply_from", [to])
        if (
            not isinstance(reply_from, list)
            or not 1 <= len(reply_from) <= 20
            or not all(plausible_address(a) for a in reply_from)
        ):
            raise AdapterConfigError("'reply_from' must be a list of 1 to 20 e-mail addresses")
        senders = tuple(str(a) for a in reply_from)
        pinned = data.get("dkim_keys", [])
        if not isinstance(pinned, list) or len(pinned) > MAX_PINNED_KEYS:
            raise AdapterConfigError(f"'dkim_keys' must be a list of at most {MAX_PINNED_KEYS} keys")
        keys = tuple(PinnedDkimKey.from_mapping(k, senders) for k in pinned)
        return cls(to=to, language=str(language), reply_from=senders, dkim_keys=keys)

    @classmethod
    def from_destination(cls, destination: Destination) -> EmailConfig:
        return cls.from_mapping(destination.config, destination.endpoint)

    def allows_sender(self, address: str) -> bool:
        return address.lower() in {a.lower() for a in self.reply_from}


# -- the reply token --------------------------------------------------------------------------------------
def reply_tag(key: PrivateSigningJwk, message_id: UUID, recipient: str) -> str:
    signature = key.sign(f"referral-hub mail-token|{message_id}|{recipient}".encode())
    return base64.b32encode(signature[:_TAG_BYTES]).decode("ascii").rstrip("=").lower()


def reply_address(key: PrivateSigningJwk, message_id: UUID, recipient: str, domain: str) -> str:
    return f"case+{message_id.hex}.{reply_tag(key, message_id, recipient)}@{domain}"


def parse_reply_address(address: str, domain: str) -> tuple[UUID, str] | None:
    """(message id, tag) from a reply address at `domain`, or None if it is not one (case-insensitive)."""
    local, at, host = address.strip().strip("<>").rpartition("@")
    if not at or host.lower() != domain.lower():
        return None
    match = _REPLY_LOCAL.fullmatch(local.lower())
    if match is None:
        return None
    return UUID(hex=match.group(1)), match.group(2)


def tag_matches(key: PrivateSigningJwk, message_id: UUID, recipient: str, tag: str) -> bool:
    return hmac.compare_digest(reply_tag(key, message_id, recipient), tag.lower())


# -- the adapter ----------------------------------------------------------------------------------------
class EmailAdapter:
    name: ClassVar[str] = "email"
    config_type: ClassVar[type[EmailConfig]] = EmailConfig
    pushes: ClassVar[bool] = True
    shows_clocks: ClassVar[bool] = True  # the notice states the recipient's legal clocks (worker fills them)

    def __init__(self, context: AdapterContext, settings: MailSettings | None = None) -> None:
        self._context = context
        # The registry builds adapters from an `AdapterContext`, which has no room for the hub's mail
        # settings: read them when the adapter is built (once per process), not cached for the process.
        self._settings = settings or MailSettings.from_env(os.environ)

    @classmethod
    def with_settings(cls, context: AdapterContext, settings: MailSettings) -> EmailAdapter:
        return cls(context, settings)

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
        try:
            config = EmailConfig.from_destination(destination)
        except AdapterConfigError as exc:
            return DeliveryOutcome(Verdict.ATTENTION, f"configuration: {exc}")
        settings, key = self._settings, self._context.hub.key
        reply_to = reply_address(key, message.message_id, destination.participant_id, settings.reply_domain)
        try:
            notice = render_notice(
                message, config.to, config.language, settings, reply_to, self._context.clock()
            )
        except Exception as exc:  # a template fault is ours: hold this destination until it is fixed
            return DeliveryOutcome(Verdict.ATTENTION, f"notice not rendered: {exc.__class__.__name__}")
        try:
            password = settings.smtp_password()
        except (OSError, ValueError) as exc:
            return DeliveryOutcome(
                Verdict.ATTENTION, f"SMTP password file unreadable: {exc.__class__.__name__}"
            )
        return await self._send(notice, password)

    async def _send(self, notice: EmailMessage, password: str | None) -> DeliveryOutcome:
        return await send_mail(self._settings, notice, password)


async def send_mail(settings: MailSettings, mail: EmailMessage, password: str | None) -> DeliveryOutcome:
    """The hub's one outbound mail path (notices, and mail-in's answers to replies it cannot read)."""
    try:
        await aiosmtplib.send(
            mail,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            username=settings.smtp_username if password is not None else None,
            password=password,
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPException as exc:
        return smtp_outcome(exc)
    except (OSError, TimeoutError) as exc:
        return DeliveryOutcome(Verdict.RETRY, f"connection failed: {exc.__class__.__name__}")
    return DeliveryOutcome(Verdict.DELIVERED, "accepted by the mail server")


def smtp_outcome(exc: aiosmtplib.SMTPException) -> DeliveryOutcome:
    """What an SMTP failure means for the delivery. Server texts are not kept: they may quote addresses."""
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | TimeoutError):
        return DeliveryOutcome(Verdict.RETRY, f"connection failed: {exc.__class__.__name__}")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        verdict = Verdict.PERMANENT if any(500 <= c < 600 for c in codes) else Verdict.RETRY
        return DeliveryOutcome(verdict, f"recipient refused (SMTP {', '.join(map(str, codes))})")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        verdict = Verdict.RETRY if 400 <= exc.code < 500 else Verdict.ATTENTION
        return DeliveryOutcome(verdict, f"SMTP login refused (SMTP {exc.code})")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return DeliveryOutcome(Verdict.ATTENTION, "the mail server does not support what the settings ask")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        verdict = Verdict.RETRY if 400 <= exc.code < 500 else Verdict.ATTENTION
        return DeliveryOutcome(verdict, f"the hub's sender address refused (SMTP {exc.code})")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if exc.code == 530:  # authentication required: the hub's settings lack a login
            return DeliveryOutcome(Verdict.ATTENTION, "the mail server requires a login (SMTP 530)")
        verdict = Verdict.PERMANENT if 500 <= exc.code < 600 else Verdict.RETRY
        return DeliveryOutcome(verdict, f"refused by the mail server (SMTP {exc.code})")
    if type(exc) is aiosmtplib.SMTPException:
        # aiosmtplib's plain error: the server offers no STARTTLS, or no login, that the settings require.
        # Sending anyway would put the notice or the password on the wire in clear: hold the destination.
        return DeliveryOutcome(Verdict.ATTENTION, "the mail server does not offer STARTTLS or login as set")
    return DeliveryOutcome(Verdict.RETRY, f"SMTP failed: {exc.__class__.__name__}")
