"""`hub mail-in` in-process: a platform answers an e-mail notice by replying to it, over real SMTP (and
LMTP), against a real PostgreSQL. The notice itself is sent by the e-mail adapter to the platform's
mail server (aiosmtpd), so the reply address, the delivery and the legal clocks are the real ones."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import asyncpg
import pytest
import pytest_asyncio
from jwcrypto import jwk, jws

from adapters.email_render import plain_date
from hub.api.app import create_app
from hub.api.keys import HUB_KEY, INTAKE, KEYRING, POOL
from hub.core.clock import Clock, parse_rfc3339, utc_now
from hub.mailin.headers import parse_headers
from hub.mailin.receiver import MailIn, start_server
from hub.services.issuer import Issuer
from hub.settings import Settings
from hub.store.mail import open_inbound
from tests.dkim_keys import DkimDns, DkimKey
from tests.factories import Member, deadline_of, jose, stored_form, withdrawal
from tests.test_email_adapter import (
    REPLY_DOMAIN,
    EmailHub,
    MailSink,
    add_email_platform,
    eu_us_takedown,
    mail_settings,
    start_smtp,
    step,
)
from tests.test_serve import free_port

GUARD = 15.0
ABUSE = "abuse@ie-platform-test.example"
REASON = "The reported image is a stock photo licensed to the uploader; no intimate content."
PLATFORM_DOMAIN = "ie-platform-test.example"


@dataclass(frozen=True)
class Notice:
    envelope: dict[str, Any]
    case_id: str
    reply_to: str


@dataclass
class MailInHub(EmailHub):
    mail_in_port: int = 0
    dkim: DkimKey = field(default_factory=lambda: DkimKey.ed25519(PLATFORM_DOMAIN))
    dns: DkimDns = field(default_factory=DkimDns)

    def mail_in(self, clock: Clock = utc_now, **changes: Any) -> MailIn:
        """A receiver on this hub, looking DKIM keys up in the test DNS."""
        return MailIn(
            Issuer(self.app[INTAKE]),
            self.app[POOL],
            self.app[KEYRING],
            mail_settings(self.smtp_port, **changes),
            clock,
            dns=self.dns,
        )

    async def start_receiver(self, clock: Clock = utc_now, **changes: Any) -> asyncio.Server:
        server = await start_server(self.mail_in(clock, **changes), "127.0.0.1", 0)
        self.mail_in_port = int(server.sockets[0].getsockname()[1])
        return server

    async def notice(self) -> Notice:
        """A takedown request from the hotline, delivered to the platform by e-mail."""
        envelope = eu_us_takedown(self.hotline, self.platform)
        _, accepted = await self.submit(envelope)
        assert await step(self.worker()) == 1
        reply_to = str(self.sink.received[-1].message()["Reply-To"])
        return Notice(envelope, accepted["case_id"], reply_to)

    async def reply(self, to: str, text: str, **options: Any) -> tuple[int, bytes]:
        """A reply as the platform's mail server sends it: DKIM-signed (unless `signed=False`)."""
        raw = reply_mail(to, text, sender=options.get("sender", ABUSE))
        if options.get("signed", True):
            raw = self.dkim.sign(raw)
        return await self.send_raw(raw, to, envelope_sender=options.get("envelope_sender", ABUSE)), raw

    async def send_raw(self, raw: bytes, to: str, envelope_sender: str = ABUSE) -> int:
        try:
            async with aiosmtplib.SMTP(hostname="127.0.0.1", port=self.mail_in_port, timeout=GUARD) as smtp:
                await smtp.sendmail(envelope_sender, [to], raw)
        except aiosmtplib.SMTPRecipientsRefused as refused:
            return refused.recipients[0].code
        except aiosmtplib.SMTPResponseException as refused:
            return refused.code
        return 250

    async def get(self, member: Member, path: str) -> Any:
        response = await self.client.get(path, headers=member.auth())
        assert response.status == 200, await response.text()
        return await response.json()

    async def inbound(self) -> list[asyncpg.Record]:
        return list(await self.db.fetch("SELECT * FROM inbound_mail ORDER BY received_at"))

    async def kept(self, row: asyncpg.Record) -> bytes:
        """What the hub keeps of an inbound mail, opened with its key."""
        return await open_inbound(self.db, self.app[INTAKE].keyring, row["id"])

    async def party_state(self, case_id: str) -> str:
        state = await self.db.fetchval(
            "SELECT state FROM case_parties WHERE case_id = $1 AND participant_id = $2",
            uuid.UUID(case_id),
            self.platform.id,
        )
        return str(state)


def reply_mail(to: str, text: str, sender: str = ABUSE) -> bytes:
    message = EmailMessage()
    message["From"] = f"Abuse Desk <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: [Referral hub] takedown-request \u2013 action required"
    message["Message-ID"] = f"<{uuid.uuid4()}@ie-platform-test.example>"
    message.set_content(
        f"{text}\n\nOn Tue, the referral hub wrote:\n> ACKNOWLEDGED\n> DECLINED: quoted text\n"
    )
    return message.as_bytes(policy=policy.SMTP)  # CRLF, as on the wire


@pytest_asyncio.fixture
async def hub(
    settings: Settings, db: asyncpg.Connection, directory: Any, aiohttp_client: Any
) -> AsyncIterator[MailInHub]:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await add_email_platform(
        db, "ie-platform-test", reply_from=[ABUSE, "legal@ie-platform-test.example"]
    )
    client = await aiohttp_client(create_app(settings, background=False))  # policies: EU, US... clocks
    sink = MailSink()
    smtp, smtp_port = await start_smtp(sink)
    async with aiohttp.ClientSession() as session:
        hub = MailInHub(client, db, session, hotline, platform, sink, smtp_port)
        hub.dns.publish(hub.dkim)
        receiver = await hub.start_receiver()
        try:
            yield hub
        finally:
            for worker in hub.workers:
                await asyncio.wait_for(worker.stop(), GUARD)
            receiver.close()
            smtp.close()


def verified(compact: str, public: dict[str, Any]) -> dict[str, Any]:
    token = jws.JWS()
    token.deserialize(compact)
    token.verify(jwk.JWK(**{k: public[k] for k in ("kty", "crv", "x", "kid")}), alg="EdDSA")
    payload: dict[str, Any] = json.loads(token.payload)
    return payload


def moves(view: dict[str, Any], participant: str) -> list[tuple[str | None, str]]:
    return [
        (e.get("from_state"), e["to_state"])
        for e in view["timeline"]
        if e["event"] == "recipient.state_changed" and e.get("subject") == participant
    ]


# -- answers -----------------------------------------------------------------------------------------------
async def test_an_acknowledgement_by_mail_is_recorded_as_hub_attested(hub: MailInHub) -> None:
    notice = await hub.notice()

    status, raw = await hub.reply(notice.reply_to, "Hello team,\n\nACKNOWLEDGED")

    assert status == 250
    view = await hub.get(hub.hotline, f"/v1/cases/{notice.case_id}")
    assert moves(view, hub.platform.id) == [
        (None, "queued"),
        ("queued", "retrieved"),
        ("retrieved", "acknowledged"),
    ]
    [answer] = [
        e for e in view["timeline"] if e["event"] == "message.accepted" and e["actor"] == hub.platform.id
    ]
    assert answer["message_type"] == "acknowledgement"
    clock = deadline_of(view, hub.platform.id, "acknowledge")  # EU and US: the earliest is kept
    assert clock["state"] == "met"
    assert clock["jurisdiction"] in ("EU", "US")
    assert deadline_of(view, hub.platform.id, "act")["state"] == "open"  # 48 hours to remove

    inbox = await hub.get(hub.hotline, "/v1/inbox")
    [item] = [m for m in inbox["messages"] if m["type"] == "acknowledgement"]
    hub_key = hub.app[HUB_KEY]
    payload = verified(item["message"], hub_key.public().to_dict())
    with pytest.raises(jws.InvalidJWSSignature):
        verified(item["message"], hub.platform.key.public().to_dict())
    token = jws.JWS()
    token.deserialize(item["message"])
    assert token.jose_header["kid"] == hub_key.kid
    assert (payload["from"], payload["to"], payload["case"]) == (
        hub.platform.id,
        [hub.hotline.id],
        notice.case_id,
    )
    assert payload["in_reply_to"] == notice.envelope["id"]
    attestation = payload["attestation"]
    assert (attestation["by"], attestation["channel"]) == (hub.app[INTAKE].hub.hub_id, "email")

    [stored] = await hub.inbound()
    assert stored["verdict"] == "accepted"
    assert await hub.kept(stored) == raw  # the e-mail exactly as it was sent (stored encrypted)
    assert stored["raw_sha256"] == hashlib.sha256(raw).hexdigest() == attestation["evidence_sha256"]
    assert str(stored["recorded_message_id"]) == payload["id"] == item["message_id"]
    assert (str(stored["case_id"]), str(stored["message_id"]), stored["recipient_id"]) == (
        notice.case_id,
        notice.envelope["id"],
        hub.platform.id,
    )
    delivered_at = (await hub.delivery(notice.envelope["id"]))["delivered_at"]
    assert payload["body"]["received_at"] == delivered_at.isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )


async def test_removed_by_mail_actions_the_case_and_meets_the_removal_clock(hub: MailInHub) -> None:
    notice = await hub.notice()

    status, _ = await hub.reply(notice.reply_to, "REMOVED - all items are gone")

    assert status == 250
    assert await hub.party_state(notice.case_id) == "actioned"
    view = await hub.get(hub.hotline, f"/v1/cases/{notice.case_id}")
    assert view["status"] == "actioned"
    assert {d["state"] for d in view["recipients"][0]["deadlines"] if d["deadline"] == "act"} == {"met"}
    [stored] = await hub.inbound()
    body = await stored_form(hub.db, stored["recorded_message_id"], hub.app[INTAKE].keyring)
    envelope = verified(bytes(body).decode(), hub.app[HUB_KEY].public().to_dict())
    assert envelope["body"]["status"] == "actioned"
    assert envelope["body"]["action"] == "removed"


async def test_declined_by_mail_carries_the_reason(hub: MailInHub) -> None:
    notice = await hub.notice()

    status, _ = await hub.reply(
        notice.reply_to, f"DECLINED: {REASON}", sender="legal@ie-platform-test.example"
    )

    assert status == 250
    assert await hub.party_state(notice.case_id) == "declined"
    [item] = [
        m for m in (await hub.get(hub.hotline, "/v1/inbox"))["messages"] if m["type"] == "status-update"
    ]
    body = verified(item["message"], hub.app[HUB_KEY].public().to_dict())["body"]
    assert (body["status"], body["decline_reason"]) == ("declined", REASON)


# -- refused ---------------------------------------------------------------------------------------------
async def test_an_unknown_token_is_refused_and_kept(hub: MailInHub) -> None:
    notice = await hub.notice()
    local, _, domain = notice.reply_to.partition("@")
    forged = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    unknown_message = f"case+{uuid.uuid4().hex}.{local.rpartition('.')[2]}@{domain}"

    for address in (forged, unknown_message, f"abuse@{REPLY_DOMAIN}"):
        status, _ = await hub.reply(address, "REMOVED")
        assert status == 550

    rows = await hub.inbound()
    assert [r["verdict"] for r in rows] == ["unknown-token"] * 3
    assert all(r["case_id"] is None and r["recipient_id"] is None and r["raw"] for r in rows)
    assert await hub.party_state(notice.case_id) == "retrieved"
    assert (await hub.reply("case+x@elsewhere.example", "REMOVED"))[0] == 550  # not our domain: not kept
    assert len(await hub.inbound()) == 3


async def test_one_reply_address_per_transaction(hub: MailInHub) -> None:
    notice = await hub.notice()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=hub.mail_in_port, timeout=GUARD) as smtp:
        errors, _ = await smtp.sendmail(
            ABUSE,
            [notice.reply_to, f"abuse@{REPLY_DOMAIN}"],
            hub.dkim.sign(reply_mail(notice.reply_to, "ACKNOWLEDGED")),
        )
    assert [code for code, _ in errors.values()] == [452]  # the second is deferred, to be sent apart
    assert await hub.party_state(notice.case_id) == "acknowledged"


@pytest.mark.parametrize(
    ("sender", "envelope_sender"),
    [
        ("someone@ie-platform-test.example", ABUSE),  # From not allowed to answer
        ("abuse@other-platform.example", "abuse@other-platform.example"),
        (ABUSE, ""),  # a null sender: bounces and auto-replies are no answers
    ],
)
async def test_a_spoofed_sender_is_refused_and_kept(
    hub: MailInHub, sender: str, envelope_sender: str
) -> None:
    notice = await hub.notice()

    status, raw = await hub.reply(notice.reply_to, "REMOVED", sender=sender, envelope_sender=envelope_sender)

    assert status == 550
    [row] = await hub.inbound()
    assert (row["verdict"], str(row["case_id"])) == ("spoofed-sender", notice.case_id)
    assert await hub.kept(row) == raw
    assert await hub.party_state(notice.case_id) == "retrieved"


@pytest.mark.parametrize(
    "envelope_sender", ["bounces+x1@ie-platform-test.example", "bounce-7f3a@mailer-service.example"]
)
async def test_a_signed_reply_may_come_with_any_bounce_address(hub: MailInHub, envelope_sender: str) -> None:
    """The envelope sender proves nothing (DMARC aligns on DKIM alone): a ticket system or mailing
    service that bounces to its own domain still carries the platform's signed answer."""
    notice = await hub.notice()
    status, _ = await hub.reply(notice.reply_to, "ACKNOWLEDGED", envelope_sender=envelope_sender)
    assert status == 250
    assert await hub.party_state(notice.case_id) == "acknowledged"


async def test_an_unrecognised_reply_is_kept_and_shown_without_content(hub: MailInHub) -> None:
    notice = await hub.notice()

    status, raw = await hub.reply(
        notice.reply_to, "Thanks, we will have a look at https://photos.example.com"
    )

    assert status == 250
    [row] = await hub.inbound()
    assert (row["verdict"], row["recorded_message_id"]) == ("unrecognised", None)
    view = await hub.get(hub.hotline, f"/v1/cases/{notice.case_id}")
    [event] = [e for e in view["timeline"] if e["event"] == "mail.unrecognised"]
    assert event["actor"] == hub.platform.id
    assert event["message_id"] == notice.envelope["id"]
    assert set(event) == {
        "at",
        "event",
        "actor",
        "subject",
        "message_id",
        "channel",
        "inbound_mail_id",
        "evidence_sha256",
        "answered_by_mail",
    }
    assert event["evidence_sha256"] == hashlib.sha256(raw).hexdigest()
    assert event["answered_by_mail"] is True
    assert "photos.example.com" not in json.dumps(view)
    assert await hub.party_state(notice.case_id) == "retrieved"
    # The platform is told by e-mail, through the notices' mail path, why and what to write.
    answer = hub.sink.received[-1]
    assert answer.rcpt_tos == [ABUSE]  # the authenticated sender
    message = answer.message()
    assert str(message["Subject"]).startswith("[Referral hub] your reply could not be read, case ")
    assert str(message["Reply-To"]) == notice.reply_to
    assert str(message["Auto-Submitted"]) == "auto-replied"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "none of the reply words" in text
    assert "ACKNOWLEDGED" in text
    assert "DELETED" in text
    assert "photos.example.com" not in message.as_string()  # never echoes the reply
    assert "Thanks, we will" not in message.as_string()


async def test_an_automatic_reply_is_not_answered(hub: MailInHub) -> None:
    notice = await hub.notice()
    raw = reply_mail(notice.reply_to, "I am out of the office.")
    raw = raw.replace(b"\r\nTo:", b"\r\nAuto-Submitted: auto-replied\r\nTo:", 1)

    assert await hub.send_raw(hub.dkim.sign(raw), notice.reply_to) == 250

    assert len(hub.sink.received) == 1  # the notice only
    [row] = await hub.inbound()
    assert row["verdict"] == "unrecognised"


async def test_a_spoofed_reply_is_answered_at_the_registered_address_only(hub: MailInHub) -> None:
    notice = await hub.notice()

    status, _ = await hub.reply(notice.reply_to, "REMOVED", sender="someone@elsewhere.example")

    assert status == 550
    answer = hub.sink.received[-1]
    assert answer.rcpt_tos == [f"abuse@{hub.platform.id}.example"]  # the notice address, not the From
    text = answer.message().get_body(preferencelist=("plain",)).get_content()
    assert "not come from an address registered" in text
    assert "someone@elsewhere.example" not in answer.message().as_string()
    view = await hub.get(hub.hotline, f"/v1/cases/{notice.case_id}")
    [event] = [e for e in view["timeline"] if e["event"] == "mail.unauthenticated"]
    assert event["answered_by_mail"] is True


async def test_an_answer_the_case_refuses_is_kept_with_the_problem(hub: MailInHub) -> None:
    notice = await hub.notice()
    withdrawn = withdrawal(hub.hotline, [hub.platform], notice.case_id)
    response = await hub.client.post("/v1/messages", **jose(hub.hotline.sign(withdrawn)))
    assert response.status == 202, await response.text()

    status, _ = await hub.reply(notice.reply_to, "REMOVED")

    assert status == 250
    [row] = await hub.inbound()
    assert (row["verdict"], row["recorded_message_id"]) == ("invalid-transition", None)
    view = await hub.get(hub.hotline, f"/v1/cases/{notice.case_id}")
    [event] = [e for e in view["timeline"] if e["event"] == "mail.not_applied"]
    assert event["problem"] == "invalid-transition"
    assert await hub.party_state(notice.case_id) == "withdrawn"


async def test_deleted_by_mail_on_the_withdrawal_notice_confirms_the_deletion(hub: MailInHub) -> None:
    notice = await hub.notice()
    withdrawn = withdrawal(hub.hotline, [hub.platform], notice.case_id, notice.envelope["id"])
    response = await hub.client.post("/v1/messages", **jose(hub.hotline.sign(withdrawn)))
    assert response.status == 202, await response.text()
    assert await step(hub.worker()) == 1
    mailed = hub.sink.received[-1].message()
    assert "  DELETED " in mailed.get_body(preferencelist=("plain",)).get_content()
    reply_to = str(mailed["Reply-To"])
    assert reply_to != notice.reply_to  # the withdrawal's own reply address

    status, _ = await hub.reply(reply_to, "Deleted. All copies and hashes are gone.")

    assert status == 250
    [row] = await hub.inbound()
    assert row["verdict"] == "accepted"
    view = await hub.get(hub.hotline, f"/v1/cases/{notice.case_id}")
    assert deadline_of(view, hub.platform.id, "confirm_deletion", withdrawn["id"])["state"] == "met"
    [answer] = [
        e for e in view["timeline"] if e["event"] == "message.accepted" and e["actor"] == hub.platform.id
    ]
    assert answer["message_type"] == "deletion-confirmation"
    body = await stored_form(hub.db, row["recorded_message_id"], hub.app[INTAKE].keyring)
    envelope = verified(bytes(body).decode(), hub.app[HUB_KEY].public().to_dict())
    assert (envelope["type"], envelope["in_reply_to"]) == ("deletion-confirmation", withdrawn["id"])
    assert envelope["body"]["scope"] == "all-data"


async def test_deleted_on_a_takedown_notice_is_kept_with_the_problem(hub: MailInHub) -> None:
    notice = await hub.notice()

    status, _ = await hub.reply(notice.reply_to, "DELETED")

    assert status == 250
    [row] = await hub.inbound()
    assert (row["verdict"], row["recorded_message_id"]) == ("invalid-reply", None)
    assert await hub.party_state(notice.case_id) == "retrieved"


async def test_every_notice_states_the_recipients_running_clocks_as_the_case_has_them(hub: MailInHub) -> None:
    notice = await hub.notice()
    withdrawn = withdrawal(hub.hotline, [hub.platform], notice.case_id, notice.envelope["id"])
    response = await hub.client.post("/v1/messages", **jose(hub.hotline.sign(withdrawn)))
    assert response.status == 202, await response.text()
    assert await step(hub.worker()) == 1
    view = await hub.get(hub.hotline, f"/v1/cases/{notice.case_id}")
    [party] = [r for r in view["recipients"] if r["participant_id"] == hub.platform.id]

    for mail, message_id in zip(
        hub.sink.received[-2:], (notice.envelope["id"], withdrawn["id"]), strict=True
    ):
        text = mail.message().get_body(preferencelist=("plain",)).get_content()
        stated = {
            (m.group(1), m.group(2))
            for m in (re.fullmatch(r"- (.+?): by [^(]+ \((\S+)\), .*", line) for line in text.splitlines())
            if m
        }
        html = mail.message().get_body(preferencelist=("html",)).get_content()
        clocks = [d for d in party["deadlines"] if d["message_id"] == message_id]
        assert clocks
        for clock in clocks:  # stated from before delivery: never later, and within seconds
            due_at = parse_rfc3339(clock["due_at"])
            [due] = [
                d
                for kind, d in stated
                if KIND_WORDS[clock["deadline"]] == kind
                and 0 <= (due_at - parse_rfc3339(d)).total_seconds() < 30
            ]
            assert plain_date(parse_rfc3339(due), "en") in text
            assert f"<code>{due}</code>" in html
    withdrawal_text = hub.sink.received[-1].message().get_body(preferencelist=("plain",)).get_content()
    assert "confirm that you deleted the data (reply DELETED): by " in withdrawal_text
    assert "starts with this e-mail" in withdrawal_text


KIND_WORDS = {
    "acknowledge": "acknowledge receipt",
    "act": "decide: remove the content, or decline with reasons",
    "respond": "answer the request for information",
    "confirm_deletion": "confirm that you deleted the data (reply DELETED)",
}


# -- idempotent ------------------------------------------------------------------------------------------
async def test_the_same_mail_twice_applies_once(hub: MailInHub) -> None:
    notice = await hub.notice()
    raw = hub.dkim.sign(reply_mail(notice.reply_to, "ACKNOWLEDGED"))

    assert await hub.send_raw(raw, notice.reply_to) == 250
    assert await hub.send_raw(raw, notice.reply_to) == 250

    assert len(await hub.inbound()) == 1
    count = "SELECT count(*) FROM messages WHERE message_type = 'acknowledgement'"
    assert await hub.db.fetchval(count) == 1

    # As if the hub had crashed after recording the answer and before keeping the mail: the mail
    # server sends it again, and the answer recorded then is found, not made twice.
    await hub.db.execute("DELETE FROM inbound_mail")
    assert await hub.send_raw(raw, notice.reply_to) == 250
    [row] = await hub.inbound()
    assert row["verdict"] == "accepted"
    assert row["recorded_message_id"] is not None
    assert await hub.db.fetchval(count) == 1


# -- LMTP --------------------------------------------------------------------------------------------------
async def lmtp_deliver(port: int, sender: str, recipient: str, raw: bytes) -> list[str]:
    """A minimal LMTP client (RFC 2033): the replies to each command, the last one DATA's."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies: list[str] = []

    async def answer() -> str:
        while True:
            line = (await asyncio.wait_for(reader.readline(), GUARD)).decode()
            if line[3:4] != "-":
                return line.strip()

    await answer()
    for command in (
        b"LHLO client.example",
        f"MAIL FROM:<{sender}>".encode(),
        f"RCPT TO:<{recipient}>".encode(),
        b"DATA",
    ):
        writer.write(command + b"\r\n")
        replies.append(await answer())
    writer.write(raw.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    replies.append(await answer())
    writer.write(b"QUIT\r\n")
    await answer()
    writer.close()
    return replies


async def test_lmtp_takes_a_reply_too(hub: MailInHub) -> None:
    notice = await hub.notice()
    server = await start_server(hub.mail_in(), "127.0.0.1", 0, lmtp=True)
    try:
        port = int(server.sockets[0].getsockname()[1])
        raw = hub.dkim.sign(reply_mail(notice.reply_to, "REMOVED"))
        replies = await lmtp_deliver(port, ABUSE, notice.reply_to, raw)
    finally:
        server.close()
    assert [r[:3] for r in replies] == ["250", "250", "250", "354", "250"]
    assert await hub.party_state(notice.case_id) == "actioned"


# -- the command -------------------------------------------------------------------------------------------
def hub_env(database_url: str, tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=database_url,
        HUB_DATA_DIR=str(tmp_path / "data"),
        HUB_ID="test-hub",
        HUB_SIGNING_KEY_FILE=str(tmp_path / "hub-key.jwk"),
        HUB_MAIL_REPLY_DOMAIN=REPLY_DOMAIN,
        HUB_MAILIN_PORT=str(port),
        HUB_LOG_LEVEL="info",
    )
    return env


async def test_mail_in_help() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "mail-in", "--help", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), GUARD)
    assert process.returncode == 0
    assert b"--lmtp" in out
    assert b"--port" in out


async def test_mail_in_runs_until_sigterm(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        "mail-in",
        env=hub_env(database_url, tmp_path, port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        greeting = await wait_for_greeting(port)
        assert greeting.startswith(b"220 ")
        assert REPLY_DOMAIN.encode() in greeting
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), GUARD)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert b'"event": "mailin.started"' in err
    assert b'"event": "mailin.stopped"' in err


async def wait_for_greeting(port: int) -> bytes:
    for _ in range(300):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        greeting = await asyncio.wait_for(reader.readline(), GUARD)
        writer.close()
        return greeting
    raise AssertionError("hub mail-in did not start listening")


async def test_the_answer_to_an_unreadable_reply_is_threaded_under_it(hub: MailInHub) -> None:
    """Issue 16.6: the hub's answer names the reply it answers (In-Reply-To) and the thread before it
    (References: the notice, then the reply), so a ticket system files it with the case."""
    notice = await hub.notice()
    notice_id = str(hub.sink.received[0].message()["Message-ID"])
    raw = reply_mail(notice.reply_to, "Thanks, we will have a look")
    raw = raw.replace(
        b"\r\nTo:", f"\r\nIn-Reply-To: {notice_id}\r\nReferences: {notice_id}\r\nTo:".encode(), 1
    )
    reply_id = str(parse_headers(raw)["Message-ID"])

    assert await hub.send_raw(hub.dkim.sign(raw), notice.reply_to) == 250

    answer = hub.sink.received[-1].message()
    assert str(answer["Subject"]).startswith("[Referral hub] your reply could not be read")
    assert str(answer["In-Reply-To"]) == reply_id
    assert str(answer["References"]).split() == [notice_id, reply_id]


async def test_a_reply_with_a_malformed_message_id_is_answered_unthreaded(hub: MailInHub) -> None:
    notice = await hub.notice()
    raw = reply_mail(notice.reply_to, "Thanks")
    raw = re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: not an id", raw, count=1)

    assert await hub.send_raw(hub.dkim.sign(raw), notice.reply_to) == 250

    answer = hub.sink.received[-1].message()
    assert answer["In-Reply-To"] is None
    assert answer["References"] is None
