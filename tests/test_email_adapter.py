"""The e-mail adapter against a real SMTP server in-process (aiosmtpd, the platform's mail server) and a
real PostgreSQL: the notice, its attachments and reply address, and what SMTP answers mean for the
delivery. A takedown request is submitted through the API and a `DeliveryWorker` delivers it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from jwcrypto import jwk, jws

from adapters.base import AdapterConfigError, AdapterContext, OutboundMessage
from adapters.email import EmailAdapter, EmailConfig, parse_reply_address, reply_address, tag_matches
from adapters.email_render import render_notice
from adapters.registry import build_adapters, validate_config
from hub.api.app import create_app
from hub.api.keys import DSN, HUB_KEY, INTAKE, POOL
from hub.cli.main import main as cli_main
from hub.core.clock import utc_now
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk
from hub.core.retry import RetryPolicy
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.keyfile import write_private_jwk
from hub.settings import MailSettings, Settings, SettingsError
from hub.store import directory
from tests.factories import Member, delivery_worker, jose, register_keys, stored_form, takedown, withdrawal

GUARD = 15.0  # seconds: a bound on waits that should end much sooner; never a timing assertion
REPLY_DOMAIN = "replies.hub.example.org"
CONTENT_URL = "https://photos.example.com/p/test-0001"


# -- the platform's mail server -----------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class MailSink:
    """Keeps every mail it accepts; answers RCPT as scripted (`refuse_rcpt`)."""

    received: list[Received] = field(default_factory=list)
    refuse_rcpt: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(
            Received(envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b"")
        )
        return "250 OK: queued"


async def start_smtp(handler: Any, **options: Any) -> tuple[asyncio.Server, int]:
    def session() -> SMTP:
        return SMTP(handler, hostname="mx.platform.example", **options)

    server = await asyncio.get_running_loop().create_server(session, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


def refuse_login(*_: Any) -> AuthResult:
    return AuthResult(success=False, handled=False)


def mail_settings(port: int, **changes: Any) -> MailSettings:
    settings = MailSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_timeout_seconds=5.0,
        mail_from="notices@hub.example.org",
        reply_domain=REPLY_DOMAIN,
    )
    return replace(settings, **changes)


async def add_email_platform(
    conn: asyncpg.Connection, participant_id: str, country: str = "IE", **config: Any
) -> Member:
    key = PrivateSigningJwk.generate(f"{participant_id}-sig-{uuid.uuid4().hex[:6]}")
    enc = PrivateEncryptionJwk.generate(f"{participant_id}-enc-{uuid.uuid4().hex[:6]}")
    adapter_config = {"to": f"abuse@{participant_id}.example", **config}
    validate_config("email", adapter_config, None)  # as `hub participants add --adapter email` does
    await directory.add_participant(
        conn,
        participant_id=participant_id,
        name=f"Fictitious platform {participant_id}",
        kind="platform",
        country=country,
        endpoint=None,
        accepts=["takedown-request"],
        adapter="email",
        adapter_config=adapter_config,
    )
    await register_keys(conn, participant_id, key, enc)
    return Member(participant_id, "platform", country, key, enc)


def eu_us_takedown(hotline: Member, platform: Member) -> dict[str, Any]:
    return takedown(
        hotline,
        platform,
        jurisdictions=["EU", "US"],
        illegality={
            "explanation": "An intimate image of an identifiable adult was published without consent.",
            "laws": [
                {"jurisdiction": "EU", "citation": "Directive (EU) 2024/1385, Art. 5"},
                {"jurisdiction": "US", "citation": "47 U.S.C. 223(h)"},
            ],
        },
    )


# -- the hub ---------------------------------------------------------------------------------------------
@dataclass
class EmailHub:
    client: Any  # aiohttp's TestClient over create_app(settings, background=False)
    db: asyncpg.Connection
    session: aiohttp.ClientSession
    hotline: Member
    platform: Member
    sink: MailSink
    smtp_port: int
    workers: list[DeliveryWorker] = field(default_factory=list)

    @property
    def app(self) -> Any:
        return self.client.app

    def context(self) -> AdapterContext:
        return AdapterContext(self.session, self.app[INTAKE].hub, utc_now)

    def worker(self, settings: MailSettings | None = None) -> DeliveryWorker:
        chosen = settings or mail_settings(self.smtp_port)

        def factory(context: AdapterContext) -> EmailAdapter:
            return EmailAdapter.with_settings(context, chosen)

        worker = delivery_worker(
            self.app[POOL],
            self.app[DSN],
            build_adapters(self.context(), {"email": factory}),
            self.app[INTAKE],
            utc_now,
            # Parked at the first refusal here; how many refusals park is test_delivery_worker's.
            WorkerConfig(poll_interval=0.05, grace=5.0, policy=RetryPolicy(park_after=1)),
        )
        self.workers.append(worker)
        return worker

    async def submit(self, envelope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        signed = self.hotline.sign(envelope)
        response = await self.client.post("/v1/messages", **jose(signed))
        assert response.status == 202, await response.text()
        return signed, await response.json()

    async def delivery(self, message_id: str, recipient: Member | None = None) -> asyncpg.Record:
        row = await self.db.fetchrow(
            "SELECT * FROM deliveries WHERE message_id = $1 AND recipient_id = $2",
            uuid.UUID(message_id),
            (recipient or self.platform).id,
        )
        assert row is not None
        return row


async def step(worker: DeliveryWorker) -> int:
    claimed = await worker.run_once()
    await asyncio.wait_for(worker.wait_idle(), GUARD)
    return claimed


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[tuple[MailSink, int]]:
    handler = MailSink()
    server, port = await start_smtp(handler)
    yield handler, port
    server.close()


@pytest_asyncio.fixture
async def hub(
    settings: Settings,
    db: asyncpg.Connection,
    directory: Any,
    sink: tuple[MailSink, int],
    aiohttp_client: Any,  # after the database: the app's pool closes before the database is dropped
) -> AsyncIterator[EmailHub]:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await add_email_platform(db, "ie-platform-test", reply_from=["abuse@ie-platform-test.example"])
    client = await aiohttp_client(create_app(settings, background=False))
    async with aiohttp.ClientSession() as session:
        hub = EmailHub(client, db, session, hotline, platform, sink[0], sink[1])
        try:
            yield hub
        finally:
            for worker in hub.workers:
                await asyncio.wait_for(worker.stop(), GUARD)


def jwcrypto_payload(compact: str, public: dict[str, Any]) -> dict[str, Any]:
    token = jws.JWS()
    token.deserialize(compact)
    token.verify(jwk.JWK(**{k: public[k] for k in ("kty", "crv", "x", "kid")}), alg="EdDSA")
    payload: dict[str, Any] = json.loads(token.payload)
    return payload


def attachments(message: EmailMessage) -> dict[str, tuple[str, str]]:
    found = {}
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found[str(part.get_filename())] = (part.get_content_type(), payload.decode("ascii"))
    return found


def body_text(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert isinstance(part, EmailMessage)
    assert part.get_content_subtype() == subtype
    return str(part.get_content())


# -- delivered -------------------------------------------------------------------------------------------
async def test_a_referral_is_mailed_as_a_notice_with_its_proof(hub: EmailHub) -> None:
    envelope = eu_us_takedown(hub.hotline, hub.platform)
    signed, accepted = await hub.submit(envelope)

    assert await step(hub.worker()) == 1

    [mail] = hub.sink.received
    assert mail.rcpt_tos == [f"abuse@{hub.platform.id}.example"]
    assert mail.mail_from == "notices@hub.example.org"
    message = mail.message()
    subject = str(message["Subject"])
    short = uuid.UUID(accepted["case_id"]).hex[:8]
    assert subject == f"[Referral hub] takedown-request, case {short} \u2013 action required"
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    for private in ("http", "photos.example.com", "test-0001", "Fictitious", "@ie-platform-test"):
        assert private not in subject
    assert CONTENT_URL not in headers  # the locators go in the body only
    for subtype in ("plain", "html"):
        text = body_text(message, subtype)
        assert CONTENT_URL in text
        assert accepted["case_id"] in text
        assert hub.hotline.id in text
        assert "Digital Services Act" in text
        assert "TAKE IT DOWN Act" in text
        assert "48 hours" in text
        assert "47 U.S.C. 223(h)" in text
        assert "ACKNOWLEDGED" in text
        assert "REMOVED" in text
        assert "DECLINED:" in text
        assert "contact" in text
        assert hub.platform.enc.kid in text
    assert "&lt;reason&gt;" in body_text(message, "html")  # autoescaped
    assert "ciphertext" not in body_text(message, "plain")

    files = attachments(message)
    assert files["message.jws"] == ("application/jose", signed)
    stored = await stored_form(hub.db, uuid.UUID(envelope["id"]), hub.app[INTAKE].keyring)
    assert files["message.jws"][1].encode() == stored
    assert jwcrypto_payload(files["message.jws"][1], hub.hotline.key.public().to_dict()) == envelope
    hub_public = hub.app[HUB_KEY].public().to_dict()
    assert files["receipt.jws"] == ("application/jose", accepted["receipt"])
    receipt = jwcrypto_payload(files["receipt.jws"][1], hub_public)
    assert (receipt["message_id"], receipt["payload_sha256"]) == (envelope["id"], accepted["payload_sha256"])

    reply_to = str(message["Reply-To"])
    assert reply_to == reply_address(
        hub.app[HUB_KEY], uuid.UUID(envelope["id"]), hub.platform.id, REPLY_DOMAIN
    )
    row = await hub.delivery(envelope["id"])
    assert (row["state"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
    evidence = jwcrypto_payload(row["evidence"], hub_public)
    assert (evidence["message_id"], evidence["recipient"]) == (envelope["id"], hub.platform.id)
    party = await hub.db.fetchval(
        "SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2",
        uuid.UUID(accepted["case_id"]),
        hub.platform.id,
    )
    assert party == "retrieved"
    assert await step(hub.worker()) == 0  # nothing more to send
    assert len(hub.sink.received) == 1


async def test_a_notice_gives_the_hubs_keys_and_how_to_open_its_sealed_fields_which_then_open(
    hub: EmailHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = eu_us_takedown(hub.hotline, hub.platform)
    await hub.submit(envelope)
    assert await step(hub.worker(mail_settings(hub.smtp_port, public_url="https://hub.example.org"))) == 1

    message = hub.sink.received[-1].message()
    text, html = body_text(message, "plain"), body_text(message, "html")
    for body in (text, html):
        assert "https://hub.example.org/.well-known/jwks.json" in body
        assert f"https://hub.example.org/v1/participants/{hub.hotline.id}" in body
        assert f"hub open message.jws --enc-key your-x25519-key.jwk --as {hub.platform.id}" in body
    # The how-to, followed as written, opens what was sealed to the platform.
    saved = tmp_path / "message.jws"
    saved.write_text(attachments(message)["message.jws"][1], "utf-8")
    key = tmp_path / "your-x25519-key.jwk"
    write_private_jwk(key, hub.platform.enc)
    capsys.readouterr()
    code = cli_main(["open", str(saved), "--enc-key", str(key), "--as", hub.platform.id])
    opened = json.loads(capsys.readouterr().out)
    assert code == 0
    assert list(opened["opened"]) == ["/body/contact"]
    assert opened["message_id"] == envelope["id"]


async def test_without_a_public_url_the_notice_gives_the_paths(hub: EmailHub) -> None:
    await hub.submit(eu_us_takedown(hub.hotline, hub.platform))
    assert await step(hub.worker()) == 1
    text = body_text(hub.sink.received[-1].message(), "plain")
    assert "The hub's keys:       /.well-known/jwks.json" in text


async def test_the_reply_address_maps_back_and_cannot_be_forged(hub: EmailHub) -> None:
    key = hub.app[HUB_KEY]
    message_id = uuid.uuid4()
    address = reply_address(key, message_id, hub.platform.id, REPLY_DOMAIN)
    local = address.partition("@")[0]
    assert len(local) <= 64  # RFC 5321 section 4.5.3.1.1

    parsed = parse_reply_address(address.upper(), REPLY_DOMAIN)  # mail systems may fold the case
    assert parsed is not None
    assert parsed[0] == message_id
    assert tag_matches(key, message_id, hub.platform.id, parsed[1])
    assert not tag_matches(key, message_id, "us-platform-test", parsed[1])  # bound to the recipient
    assert not tag_matches(PrivateSigningJwk.generate(), message_id, hub.platform.id, parsed[1])
    tampered = parsed[1][:-1] + ("a" if parsed[1][-1] != "a" else "b")
    assert not tag_matches(key, message_id, hub.platform.id, tampered)
    other = uuid.uuid4()
    assert not tag_matches(key, other, hub.platform.id, parsed[1])
    assert parse_reply_address(address, "elsewhere.example") is None
    assert parse_reply_address(f"abuse@{REPLY_DOMAIN}", REPLY_DOMAIN) is None


async def test_a_german_notice(hub: EmailHub, db: asyncpg.Connection) -> None:
    platform = await add_email_platform(db, "at-platform-test", "AT", language="de")
    envelope = eu_us_takedown(hub.hotline, platform)
    await hub.submit(envelope)

    assert await step(hub.worker()) == 1

    [mail] = hub.sink.received
    message = mail.message()
    assert str(message["Subject"]).startswith("[Referral-Hub] takedown-request, Fall ")
    assert message["Content-Language"] == "de"
    for subtype in ("plain", "html"):
        text = body_text(message, subtype)
        assert "rechtsgrundlage" in text.lower()
        assert "Gesetz über digitale Dienste" in text
        assert "binnen 48 Stunden" in text
        assert CONTENT_URL in text
        assert "ACKNOWLEDGED" in text
        assert "englischen Schlüsselwörter" in text


def test_the_senders_text_is_escaped_in_the_html_notice() -> None:
    hotline_key = PrivateSigningJwk.generate("de-hotline-test-sig")
    hotline = Member("de-hotline-test", "hotline", "DE", hotline_key, PrivateEncryptionJwk.generate())
    platform = Member("ie-platform-test", "platform", "IE", hotline_key, PrivateEncryptionJwk.generate())
    envelope = takedown(hotline, platform, notes="<img src=x onerror=alert(1)> & more")
    signed = hotline.sign(envelope)
    message = OutboundMessage(
        uuid.UUID(envelope["id"]), uuid.uuid4(), hotline.id, platform.id, "takedown-request", "1.0",
        utc_now(), "0" * 64, signed, signed, 1,
    )  # fmt: skip
    notice = render_notice(
        message, "abuse@platform.example", "en", mail_settings(25), "case+x@x.example", utc_now()
    )
    html = body_text(notice, "html")
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; more" in html
    assert "<img" not in html
    assert "<img src=x onerror=alert(1)> & more" in body_text(notice, "plain")


# -- what SMTP answers mean ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "state"),
    [("550 5.1.1 No such mailbox", "dead"), ("450 4.2.1 Mailbox busy, try later", "pending")],
)
async def test_a_refused_recipient_is_dead_only_when_refused_for_good(
    hub: EmailHub, answer: str, state: str
) -> None:
    hub.sink.refuse_rcpt = answer
    envelope = eu_us_takedown(hub.hotline, hub.platform)
    await hub.submit(envelope)

    assert await step(hub.worker()) == 1

    row = await hub.delivery(envelope["id"])
    assert (row["state"], row["attempts"]) == (state, 1)
    assert answer[:3] in row["last_error"]
    assert "abuse@" not in row["last_error"]  # no address in what the hub keeps about the attempt
    assert hub.sink.received == []


async def test_a_mail_server_that_is_down_is_retried(hub: EmailHub) -> None:
    server, port = await start_smtp(MailSink())
    server.close()
    await server.wait_closed()  # nothing listens on `port` any more
    envelope = eu_us_takedown(hub.hotline, hub.platform)
    await hub.submit(envelope)

    assert await step(hub.worker(mail_settings(port))) == 1

    row = await hub.delivery(envelope["id"])
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert "connection failed" in row["last_error"]
    parked = await hub.db.fetchval(
        "SELECT parked_at FROM destinations WHERE participant_id = $1", hub.platform.id
    )
    assert parked is None


async def test_a_refused_login_parks_the_destination(hub: EmailHub, tmp_path: Path) -> None:
    server, port = await start_smtp(MailSink(), authenticator=refuse_login, auth_require_tls=False)
    password = tmp_path / "smtp-password"
    password.write_text("not-the-password\n")
    settings = mail_settings(port, smtp_username="hub", smtp_password_file=password)
    envelope = eu_us_takedown(hub.hotline, hub.platform)
    await hub.submit(envelope)
    try:
        assert await step(hub.worker(settings)) == 1
    finally:
        server.close()

    row = await hub.delivery(envelope["id"])
    assert row["state"] == "pending"
    assert "535" in row["last_error"]
    parked = await hub.db.fetchval(
        "SELECT parked_at FROM destinations WHERE participant_id = $1", hub.platform.id
    )
    assert parked is not None
    assert await step(hub.worker(settings)) == 0  # parked: nothing is tried until an operator unparks it


async def test_an_unreadable_password_file_parks_the_destination(hub: EmailHub, tmp_path: Path) -> None:
    envelope = eu_us_takedown(hub.hotline, hub.platform)
    await hub.submit(envelope)
    settings = mail_settings(hub.smtp_port, smtp_username="hub", smtp_password_file=tmp_path / "missing")

    assert await step(hub.worker(settings)) == 1

    assert "password file" in (await hub.delivery(envelope["id"]))["last_error"]
    assert hub.sink.received == []


async def test_a_server_without_starttls_gets_nothing_in_clear(hub: EmailHub) -> None:
    envelope = eu_us_takedown(hub.hotline, hub.platform)
    await hub.submit(envelope)

    assert await step(hub.worker(mail_settings(hub.smtp_port, smtp_starttls=True))) == 1

    assert hub.sink.received == []
    assert "STARTTLS" in (await hub.delivery(envelope["id"]))["last_error"]
    parked = await hub.db.fetchval(
        "SELECT parked_at FROM destinations WHERE participant_id = $1", hub.platform.id
    )
    assert parked is not None


async def test_a_withdrawal_is_mailed_with_its_fields_and_only_the_deleted_reply_word(hub: EmailHub) -> None:
    envelope = eu_us_takedown(hub.hotline, hub.platform)
    _, accepted = await hub.submit(envelope)
    assert await step(hub.worker()) == 1
    withdrawn = withdrawal(hub.hotline, [hub.platform], accepted["case_id"], envelope["id"])
    signed, _ = await hub.submit(withdrawn)

    assert await step(hub.worker()) == 1

    message = hub.sink.received[-1].message()
    assert str(message["Subject"]).startswith("[Referral hub] withdrawal, case ")
    assert str(message["Subject"]).endswith("new message")
    text = body_text(message, "plain")
    assert "reason: victim-request" in text
    assert "needs no answer by e-mail" not in text  # a deletion-confirmation clock runs against it
    assert "  DELETED " in text
    assert "DECLINED" not in text
    assert "REMOVED" not in text
    assert "<code>DELETED</code>" in body_text(message, "html")
    assert attachments(message)["message.jws"] == ("application/jose", signed)


# -- configuration -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({}, "'to'"),
        ({"to": "not an address"}, "'to'"),
        ({"to": "abuse@platform.example\r\nBcc: x@evil.example"}, "'to'"),
        ({"to": "abuse@platform.example", "language": "xx"}, "'language'"),
        ({"to": "abuse@platform.example", "reply_from": "abuse@platform.example"}, "'reply_from'"),
        ({"to": "abuse@platform.example", "reply_from": []}, "'reply_from'"),
        ({"to": "abuse@platform.example", "reply_from": ["nobody"]}, "'reply_from'"),
        ({"to": "abuse@platform.example", "smtp_host": "mx.example"}, "unknown configuration key"),
    ],
)
def test_a_bad_configuration_is_refused_when_registered(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(AdapterConfigError, match=problem):
        validate_config("email", config, None)


def test_the_configuration_defaults() -> None:
    config = EmailConfig.from_mapping({"to": "Abuse@Platform.example"}, None)
    assert (config.language, config.reply_from) == ("en", ("Abuse@Platform.example",))
    assert config.allows_sender("abuse@platform.EXAMPLE")
    assert not config.allows_sender("someone@platform.example")


async def test_the_registry_builds_the_email_adapter_from_the_environment(hub: EmailHub) -> None:
    adapters = build_adapters(hub.context())
    assert adapters["email"].name == "email"
    assert adapters["email"].pushes
    assert adapters["email"].config_type is EmailConfig


def test_the_registry_builds_the_email_adapter_with_the_mail_settings_of_that_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No process-wide cache of the environment: a second build sees changed settings."""
    context = AdapterContext(
        Any, HubIdentity("test-hub", PrivateSigningJwk.generate("hub-test-key")), utc_now
    )  # type: ignore[arg-type]
    monkeypatch.setenv("HUB_MAIL_FROM", "first@hub.example")
    first = build_adapters(context)["email"]
    monkeypatch.setenv("HUB_MAIL_FROM", "second@hub.example")
    second = build_adapters(context)["email"]
    assert isinstance(first, EmailAdapter)
    assert isinstance(second, EmailAdapter)
    assert (first._settings.mail_from, second._settings.mail_from) == (
        "first@hub.example",
        "second@hub.example",
    )


@pytest.mark.parametrize(
    "value", ["hub.example.org", "ftp://hub.example.org", "https://hub.example.org/?x=1"]
)
def test_a_bad_public_url_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="HUB_PUBLIC_URL"):
        MailSettings.from_env({"HUB_PUBLIC_URL": value})


def test_the_public_url_is_kept_without_its_trailing_slash() -> None:
    assert MailSettings.from_env({"HUB_PUBLIC_URL": "https://hub.example.org/"}).public_url == (
        "https://hub.example.org"
    )


async def test_a_later_notice_on_a_case_already_mailed_is_threaded_under_the_first(hub: EmailHub) -> None:
    """Issue 16.6: the withdrawal notice names the takedown notice it follows (In-Reply-To,
    References), so the platform's ticket system files both under one ticket; the first has neither."""
    envelope = eu_us_takedown(hub.hotline, hub.platform)
    _, accepted = await hub.submit(envelope)
    assert await step(hub.worker()) == 1
    first = hub.sink.received[-1].message()
    assert first["In-Reply-To"] is None
    assert first["References"] is None
    withdrawn = withdrawal(hub.hotline, [hub.platform], accepted["case_id"], envelope["id"])
    await hub.submit(withdrawn)

    assert await step(hub.worker()) == 1

    second = hub.sink.received[-1].message()
    assert str(first["Message-ID"]) == f"<{envelope['id']}.{hub.platform.id}@{REPLY_DOMAIN}>"
    assert str(second["In-Reply-To"]) == str(first["Message-ID"])
    assert str(second["References"]) == str(first["Message-ID"])
    assert str(second["Message-ID"]) != str(first["Message-ID"])
