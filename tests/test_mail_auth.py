"""Issue 14, finding 2: an e-mailed answer changes a case only when its origin is authenticated.

Replies are real e-mails signed with dkimpy (`dkim.sign`) with test keys that a test DNS table publishes
(mail-in's injectable `dnsfunc`: no network); they go over real SMTP into `hub mail-in` in-process,
against a real PostgreSQL, after a real e-mail notice. A forged, unsigned or wrongly signed reply, or one
with a display-name trick, is kept as evidence and shown on the case as unauthenticated e-mail, and
changes no state and no clock; a properly signed one is taken end to end."""

from __future__ import annotations

import hashlib
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from hub.console.render import make_environment
from hub.core.mail_auth import (
    AuthenticationResults,
    DkimCheck,
    Fault,
    MailFacts,
    MethodResult,
    SenderPolicy,
    aligned,
    authenticate,
)
from hub.mailin.headers import addressed_in, parse_authentication_results, parse_headers, strict_from
from tests.dkim_keys import DkimKey
from tests.factories import deadline_of
from tests.test_email_adapter import add_email_platform
from tests.test_mail_in import ABUSE, PLATFORM_DOMAIN, MailInHub, reply_mail
from tests.test_mail_in import hub as mail_in_hub  # noqa: F401  (the fixture `hub`)
from tests.test_plaintext_search import capturing_logs, found_in

ATTACKER = "attacker.example"
TRUSTED_MX = "mx.hub.example.org"


# -- the rule (pure) -----------------------------------------------------------------------------------
REGISTERED = SenderPolicy(frozenset({"abuse@platform.example"}), trusted_authserv_ids=frozenset({TRUSTED_MX}))


def facts(*dkim: DkimCheck, results: tuple[AuthenticationResults, ...] = (), **changes: Any) -> MailFacts:
    base: dict[str, Any] = {
        "from_address": "abuse@platform.example",
        "envelope_sender": "abuse@platform.example",
        "addressed": True,
    }
    return MailFacts(**{**base, **changes}, dkim=dkim, authentication_results=results)


def sig(domain: str = "platform.example", **changes: Any) -> DkimCheck:
    signed = {"signs_from": True, "signs_recipient": True, "whole_body": True}
    return DkimCheck(
        **{"domain": domain, "selector": "s1", "valid": True, "pinned": False, **signed, **changes}
    )


def mx(*results: MethodResult, authserv_id: str = TRUSTED_MX) -> AuthenticationResults:
    return AuthenticationResults(authserv_id, results)


@pytest.mark.parametrize(
    ("mail", "method"),
    [
        (facts(sig()), "dkim"),
        (facts(sig("mail.platform.example")), "dkim"),  # a subdomain of the From domain
        (facts(sig(ATTACKER, valid=True), sig()), "dkim"),  # any aligned valid signature counts
        (
            facts(results=(mx(MethodResult("dmarc", "pass", {"header.from": "platform.example"})),)),
            "mx-dmarc",
        ),
        (facts(results=(mx(MethodResult("dkim", "pass", {"header.d": "platform.example"})),)), "mx-dkim"),
        (facts(results=(mx(MethodResult("dkim", "pass", {"header.i": "@platform.example"})),)), "mx-dkim"),
    ],
)
def test_what_authenticates(mail: MailFacts, method: str) -> None:
    decision = authenticate(mail, REGISTERED)
    assert (decision.authenticated, decision.method) == (True, method)


@pytest.mark.parametrize(
    ("mail", "fault"),
    [
        (facts(sig(), from_address=None), Fault.FROM_MALFORMED),
        (facts(sig(), from_address="someone@platform.example"), Fault.SENDER_NOT_REGISTERED),
        (facts(sig(), envelope_sender=""), Fault.NULL_SENDER),
        (facts(sig(), envelope_sender="<>"), Fault.NULL_SENDER),
        (facts(), Fault.NO_SIGNATURE),
        (facts(sig(valid=False)), Fault.SIGNATURE_INVALID),
        (facts(sig(ATTACKER)), Fault.SIGNATURE_NOT_ALIGNED),
        (facts(sig("example")), Fault.SIGNATURE_NOT_ALIGNED),  # a bare TLD never aligns
        (facts(sig("latform.example")), Fault.SIGNATURE_NOT_ALIGNED),  # a suffix, not a parent
        (facts(sig(whole_body=False)), Fault.SIGNATURE_PARTIAL),  # l=: the rest of the body unsigned
        (facts(sig(signs_from=False)), Fault.SIGNATURE_PARTIAL),
        (facts(sig(signs_recipient=False)), Fault.SIGNATURE_PARTIAL),  # its To could name another case
        (facts(sig(), addressed=False), Fault.NOT_ADDRESSED),
        (facts(sig(valid=False, key_unavailable=True)), Fault.KEY_UNAVAILABLE),
        (facts(sig(ATTACKER, valid=False, key_unavailable=True)), Fault.SIGNATURE_INVALID),  # not its key
        # a pass recorded by a server the operator does not trust, or about another domain
        (
            facts(
                results=(
                    mx(MethodResult("dmarc", "pass", {"header.from": "platform.example"}), authserv_id="x"),
                )
            ),
            Fault.NO_SIGNATURE,
        ),
        (facts(results=(mx(MethodResult("dmarc", "pass", {"header.from": ATTACKER})),)), Fault.NO_SIGNATURE),
        (
            facts(results=(mx(MethodResult("spf", "pass", {"smtp.mailfrom": "platform.example"})),)),
            Fault.NO_SIGNATURE,
        ),
        # only the topmost trusted header counts: the trusted MX's own, not one the sender wrote below it
        (
            facts(
                results=(
                    mx(MethodResult("dmarc", "fail", {"header.from": "platform.example"})),
                    mx(MethodResult("dmarc", "pass", {"header.from": "platform.example"})),
                )
            ),
            Fault.NO_SIGNATURE,
        ),
    ],
)
def test_what_does_not(mail: MailFacts, fault: Fault) -> None:
    decision = authenticate(mail, REGISTERED)
    assert (decision.authenticated, decision.fault) == (False, fault)
    assert decision.record() == {"fault": str(fault)}


def test_a_participant_that_pins_keys_is_authenticated_by_them_alone() -> None:
    pins = SenderPolicy(
        REGISTERED.registered, pins_keys=True, trusted_authserv_ids=REGISTERED.trusted_authserv_ids
    )
    dmarc = (mx(MethodResult("dmarc", "pass", {"header.from": "platform.example"})),)
    assert authenticate(facts(sig(pinned=True)), pins).method == "pinned-dkim"
    assert authenticate(facts(sig(pinned=False), results=dmarc), pins).fault is Fault.PINNED_KEY_REQUIRED


def test_alignment() -> None:
    assert aligned("platform.example", "platform.example")
    assert aligned("Platform.Example.", "mail.platform.example")
    assert aligned("eu.mail.platform.example", "platform.example")
    assert not aligned("example", "platform.example")
    assert not aligned("evilplatform.example", "platform.example")


# -- the headers, read strictly ------------------------------------------------------------------------
def from_of(*values: str) -> str | None:
    raw = "".join(f"From: {v}\r\n" for v in values) + "Subject: x\r\n\r\nREMOVED\r\n"
    return strict_from(parse_headers(raw.encode()))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Abuse Desk <Abuse@Platform.example>"], "abuse@platform.example"),
        (["abuse@platform.example"], "abuse@platform.example"),
        (["abuse@platform.example (Abuse desk)"], "abuse@platform.example"),
        (['"abuse@platform.example" <attacker@attacker.example>'], "attacker@attacker.example"),
        (["=?utf-8?q?abuse=40platform.example?= <attacker@attacker.example>"], "attacker@attacker.example"),
        (["abuse@platform.example <attacker@attacker.example>"], None),  # read as the platform before
        (["abuse@platform.example, attacker@attacker.example"], None),
        (["abuse@platform.example", "attacker@attacker.example"], None),  # two From headers
        (["Desk: abuse@platform.example;"], None),  # a group
        (["Abuse <abuse@platform.example> trailing"], None),
        (['"a b"@platform.example'], None),  # a quoted local part: never registered
        (["abuse@[192.0.2.1]"], None),
        ([], None),
    ],
)
def test_the_from_header_is_one_plain_mailbox_and_only_its_addr_spec_counts(
    values: list[str], expected: str | None
) -> None:
    assert from_of(*values) == expected


def test_the_reply_address_is_looked_for_in_the_one_to_and_cc_header() -> None:
    def addressed(headers: str) -> frozenset[str]:
        return addressed_in(
            parse_headers(f"{headers}Subject: x\r\n\r\nREMOVED\r\n".encode()), "Case+A@r.example"
        )

    assert addressed("To: Hub <case+a@r.example>\r\n") == {"to"}
    assert addressed("To: x@y.example\r\nCc: other@y.example, CASE+A@R.EXAMPLE\r\n") == {"cc"}
    assert addressed("To: case+b@r.example\r\n") == frozenset()
    assert addressed("To: case+b@r.example\r\nTo: case+a@r.example\r\n") == frozenset()  # two To headers


def test_authentication_results_are_parsed_as_rfc_8601_says() -> None:
    header = parse_authentication_results(
        'MX.Hub.example.org 1; dkim = pass (good signature) reason="ok" header . d=Platform.example '
        "header.s=s1; spf=pass smtp.mailfrom=platform.example; "
        "dmarc=pass (p=reject) header.from=platform.example"
    )
    assert header == AuthenticationResults(
        TRUSTED_MX,
        (
            MethodResult("dkim", "pass", {"header.d": "platform.example", "header.s": "s1"}),
            MethodResult("spf", "pass", {"smtp.mailfrom": "platform.example"}),
            MethodResult("dmarc", "pass", {"header.from": "platform.example"}),
        ),
    )
    assert parse_authentication_results("mx.example; none") == AuthenticationResults("mx.example", ())
    assert parse_authentication_results('mx.example; dkim=pass header.d="unterminated') is None
    assert parse_authentication_results("mx.example; this is no result") is None


# -- end to end ----------------------------------------------------------------------------------------
@pytest.fixture
def hub(mail_in_hub: MailInHub) -> MailInHub:  # noqa: F811  (the imported fixture, by its name)
    """test_mail_in's hub: a notice mailed to the platform, its reply address, mail-in listening."""
    return mail_in_hub


async def assert_unchanged(hub: MailInHub, case_id: str) -> dict[str, Any]:
    """No state and no clock moved: the platform has retrieved the notice, both clocks still run."""
    assert await hub.party_state(case_id) == "retrieved"
    view = await hub.get(hub.hotline, f"/v1/cases/{case_id}")
    assert deadline_of(view, hub.platform.id, "acknowledge")["state"] == "open"
    assert deadline_of(view, hub.platform.id, "act")["state"] == "open"
    assert view["status"] == "open"
    return view


async def refused(hub: MailInHub, case_id: str, raw: bytes, verdict: str, fault: Fault) -> None:
    [row] = [r for r in await hub.inbound() if r["raw_sha256"] == hashlib.sha256(raw).hexdigest()]
    assert (row["verdict"], row["auth"], row["recorded_message_id"]) == (verdict, {"fault": str(fault)}, None)
    view = await assert_unchanged(hub, case_id)
    [event] = [e for e in view["timeline"] if e["event"] == "mail.unauthenticated"]
    assert (event["actor"], event["fault"], event["claimed"]) == (hub.platform.id, str(fault), "removed")
    line = make_environment().filters["timeline_line"](event, hub.hotline.id)  # as the console shows it
    assert line == "An e-mail that could not be authenticated came (kept as evidence)"
    assert event["evidence_sha256"] == row["raw_sha256"]
    assert not [
        e for e in view["timeline"] if e["event"] == "message.accepted" and e["actor"] == hub.platform.id
    ]


async def test_a_properly_signed_removal_actions_the_case_and_meets_its_clocks(hub: MailInHub) -> None:
    notice = await hub.notice()

    status, _ = await hub.reply(notice.reply_to, "REMOVED - all items are gone")

    assert status == 250
    assert await hub.party_state(notice.case_id) == "actioned"
    view = await hub.get(hub.hotline, f"/v1/cases/{notice.case_id}")
    assert view["status"] == "actioned"
    assert deadline_of(view, hub.platform.id, "act")["state"] == "met"
    [row] = await hub.inbound()
    dkim = {"method": "dkim", "domain": PLATFORM_DOMAIN, "selector": hub.dkim.selector}
    assert (row["verdict"], row["auth"]) == ("accepted", dkim)  # enough to verify it again later
    assert f"{hub.dkim.selector}._domainkey.{PLATFORM_DOMAIN}." in hub.dns.asked


async def test_an_rsa_signed_answer_is_taken_too(hub: MailInHub) -> None:
    hub.dkim = DkimKey.rsa(PLATFORM_DOMAIN)
    hub.dns.publish(hub.dkim)
    notice = await hub.notice()
    assert (await hub.reply(notice.reply_to, "ACKNOWLEDGED"))[0] == 250
    assert await hub.party_state(notice.case_id) == "acknowledged"


async def test_an_unsigned_reply_with_the_platforms_address_changes_nothing(hub: MailInHub) -> None:
    """The attack of the finding: the reply token, a forged From and MAIL FROM at the platform's domain."""
    notice = await hub.notice()

    status, raw = await hub.reply(notice.reply_to, "REMOVED", signed=False)

    assert status == 550
    await refused(hub, notice.case_id, raw, "unauthenticated", Fault.NO_SIGNATURE)


async def test_a_reply_signed_for_another_domain_changes_nothing(hub: MailInHub) -> None:
    attacker = DkimKey.ed25519(ATTACKER)
    hub.dns.publish(attacker)  # a valid signature, by the attacker's own domain
    notice = await hub.notice()
    raw = attacker.sign(reply_mail(notice.reply_to, "REMOVED"))

    assert await hub.send_raw(raw, notice.reply_to) == 550
    await refused(hub, notice.case_id, raw, "unauthenticated", Fault.SIGNATURE_NOT_ALIGNED)


async def test_a_reply_signed_in_the_platforms_name_with_another_key_changes_nothing(hub: MailInHub) -> None:
    notice = await hub.notice()
    raw = DkimKey.ed25519(ATTACKER, hub.dkim.selector).sign(
        reply_mail(notice.reply_to, "REMOVED"), domain=PLATFORM_DOMAIN
    )
    assert await hub.send_raw(raw, notice.reply_to) == 550
    await refused(hub, notice.case_id, raw, "unauthenticated", Fault.SIGNATURE_INVALID)


async def test_a_signed_reply_whose_body_was_changed_changes_nothing(hub: MailInHub) -> None:
    notice = await hub.notice()
    signed = hub.dkim.sign(reply_mail(notice.reply_to, "ACKNOWLEDGED"))
    raw = signed.replace(b"ACKNOWLEDGED\r\n\r\nOn Tue", b"REMOVED\r\n\r\nOn Tue", 1)
    assert raw != signed

    assert await hub.send_raw(raw, notice.reply_to) == 550
    await refused(hub, notice.case_id, raw, "unauthenticated", Fault.SIGNATURE_INVALID)


@pytest.mark.parametrize(
    ("sender", "fault"),
    [
        (f"{ABUSE} <abuse@{ATTACKER}>", Fault.FROM_MALFORMED),
        (f'"{ABUSE}" <abuse@{ATTACKER}>', Fault.SENDER_NOT_REGISTERED),
    ],
)
async def test_a_display_name_trick_changes_nothing(hub: MailInHub, sender: str, fault: Fault) -> None:
    attacker = DkimKey.ed25519(ATTACKER)
    hub.dns.publish(attacker)
    notice = await hub.notice()
    message = EmailMessage(policy=policy.SMTP)
    message["To"] = notice.reply_to
    message["Subject"] = "Re: notice"
    message["Message-ID"] = "<trick@attacker.example>"
    message.set_content("REMOVED\n")
    raw = b"From: " + sender.encode() + b"\r\n" + message.as_bytes()  # as written, not re-folded
    raw = attacker.sign(raw)

    assert await hub.send_raw(raw, notice.reply_to, envelope_sender=f"abuse@{ATTACKER}") == 550
    await refused(hub, notice.case_id, raw, "spoofed-sender", fault)


async def test_a_second_from_header_changes_nothing(hub: MailInHub) -> None:
    notice = await hub.notice()
    raw = hub.dkim.sign(b"From: attacker@attacker.example\r\n" + reply_mail(notice.reply_to, "REMOVED"))
    assert await hub.send_raw(raw, notice.reply_to) == 550
    await refused(hub, notice.case_id, raw, "spoofed-sender", Fault.FROM_MALFORMED)


async def test_a_signed_answer_to_one_case_cannot_be_replayed_to_another(hub: MailInHub) -> None:
    """The envelope recipient is not signed, the To header is: the platform's genuine REMOVED for one
    case, sent again to another case's reply address (as is, or with a second To header), is refused."""
    first, second = await hub.notice(), await hub.notice()
    status, genuine = await hub.reply(first.reply_to, "REMOVED")
    assert status == 250
    assert await hub.party_state(first.case_id) == "actioned"

    assert await hub.send_raw(genuine, second.reply_to) == 550
    added_to = f"To: {second.reply_to}\r\n".encode() + genuine
    assert await hub.send_raw(added_to, second.reply_to) == 550
    view = await assert_unchanged(hub, second.case_id)
    faults = [e["fault"] for e in view["timeline"] if e["event"] == "mail.unauthenticated"]
    assert faults == [str(Fault.NOT_ADDRESSED)] * 2


async def test_a_key_that_cannot_be_fetched_defers_the_reply(hub: MailInHub) -> None:
    """A DNS timeout is no forgery: 451 (the platform's server tries again), nothing kept, nothing
    changed; once DNS answers, the same mail is taken."""
    notice = await hub.notice()
    raw = hub.dkim.sign(reply_mail(notice.reply_to, "REMOVED"))
    hub.dns.timing_out = True

    assert await hub.send_raw(raw, notice.reply_to) == 451
    assert await hub.inbound() == []
    view = await assert_unchanged(hub, notice.case_id)
    assert not [e for e in view["timeline"] if e["event"].startswith("mail.")]

    hub.dns.timing_out = False
    assert await hub.send_raw(raw, notice.reply_to) == 250
    assert await hub.party_state(notice.case_id) == "actioned"


async def test_a_dmarc_pass_recorded_by_the_trusted_mx_authenticates(hub: MailInHub) -> None:
    receiver = await hub.start_receiver(mailin_trusted_authserv_ids=f"other.example, {TRUSTED_MX}")
    try:
        notice = await hub.notice()
        results = (
            f"Authentication-Results: {TRUSTED_MX}; dmarc=pass (p=reject) header.from={PLATFORM_DOMAIN}\r\n"
        )
        untrusted = (
            f"Authentication-Results: mx.attacker.example; dmarc=pass header.from={PLATFORM_DOMAIN}\r\n"
        )
        raw = untrusted.encode() + reply_mail(notice.reply_to, "REMOVED")
        assert await hub.send_raw(raw, notice.reply_to) == 550  # nobody the operator named vouches
        await assert_unchanged(hub, notice.case_id)

        raw = results.encode() + reply_mail(notice.reply_to, "REMOVED")  # unsigned: the MX checked it
        assert await hub.send_raw(raw, notice.reply_to) == 250
    finally:
        receiver.close()
    assert await hub.party_state(notice.case_id) == "actioned"
    accepted = [r for r in await hub.inbound() if r["verdict"] == "accepted"]
    assert [r["auth"] for r in accepted] == [{"method": "mx-dmarc", "domain": PLATFORM_DOMAIN}]


async def test_a_pinned_key_authenticates_without_dns_and_no_other_key_does(hub: MailInHub) -> None:
    pinned = DkimKey.ed25519(PLATFORM_DOMAIN, "pinned1")
    await hub.db.execute(
        "UPDATE participants SET adapter_config = adapter_config || $1::jsonb WHERE id = $2",
        {"dkim_keys": [pinned.pinned()]},
        hub.platform.id,
    )
    notice = await hub.notice()
    asked = len(hub.dns.asked)

    # Signed with the key the platform publishes in DNS, but not the pinned one: refused.
    status, raw = await hub.reply(notice.reply_to, "REMOVED")
    assert status == 550
    await refused(hub, notice.case_id, raw, "unauthenticated", Fault.PINNED_KEY_REQUIRED)

    raw = pinned.sign(reply_mail(notice.reply_to, "REMOVED"))
    assert await hub.send_raw(raw, notice.reply_to) == 250
    assert await hub.party_state(notice.case_id) == "actioned"
    assert len(hub.dns.asked) == asked  # DNS was never asked
    [row] = [r for r in await hub.inbound() if r["verdict"] == "accepted"]
    assert row["auth"] == {"method": "pinned-dkim", "domain": PLATFORM_DOMAIN, "selector": "pinned1"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {
                "dkim_keys": [
                    {"domain": "other.example", "selector": "s1", "record": "v=DKIM1; k=ed25519; p=AA"}
                ]
            },
            "reply_from",
        ),
        (
            {
                "dkim_keys": [
                    {
                        "domain": "ie-platform-bad.example",
                        "selector": "s1",
                        "record": "v=DKIM1; k=ed25519; p=!!",
                    }
                ]
            },
            "record",
        ),
        (
            {
                "dkim_keys": [
                    {"domain": "ie-platform-bad.example", "selector": "s 1", "record": "v=DKIM1; p=AA"}
                ]
            },
            "selector",
        ),
        ({"dkim_keys": [{"domain": "ie-platform-bad.example"}]}, "selector"),
        ({"dkim_keys": "v=DKIM1"}, "dkim_keys"),
    ],
)
async def test_a_bad_pinned_key_is_refused_when_registered(
    hub: MailInHub, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await add_email_platform(hub.db, "ie-platform-bad", **config)


async def test_a_valid_pinned_key_is_registered(hub: MailInHub) -> None:
    key = DkimKey.ed25519("ie-platform-good.example", "s1")
    await add_email_platform(hub.db, "ie-platform-good", dkim_keys=[key.pinned()])


async def test_mail_in_logs_no_address(
    hub: MailInHub, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Neither the hub's lines nor dkimpy's (silenced: its debug lines quote signature fields, i= an
    address) name a sender or a reply address, whatever is refused or taken."""
    attacker = DkimKey.ed25519(ATTACKER)
    hub.dns.publish(attacker)
    notice = await hub.notice()
    forger = f"abuse@{ATTACKER}"
    with capturing_logs(capsys, caplog) as logs:
        await hub.reply(notice.reply_to, "REMOVED", signed=False)
        raw = attacker.sign(reply_mail(notice.reply_to, "REMOVED", sender=forger), identity=forger)
        await hub.send_raw(raw, notice.reply_to, envelope_sender=forger)
        forged = attacker.sign(reply_mail(notice.reply_to, "REMOVED"), domain=PLATFORM_DOMAIN, identity=ABUSE)
        await hub.send_raw(forged, notice.reply_to)
        signed = hub.dkim.sign(reply_mail(notice.reply_to, "ACKNOWLEDGED"), identity=ABUSE)
        assert await hub.send_raw(signed, notice.reply_to) == 250
        text = logs.text()
    assert '"event": "mail.reply_refused"' in text
    assert '"event": "mail.reply_taken"' in text
    assert found_in(text, ABUSE, forger, notice.reply_to.partition("@")[0]) == set()
