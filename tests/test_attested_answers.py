"""A platform's answer by e-mail, across every surface that checks a message (issue 16, finding 1).

The platform replies to its notice through the mail-in receiver (real SMTP, DKIM-signed by its domain);
the hub records the answer `from` the platform, signed with the hub's key and marked with an
`attestation` (`hub.core.attestation`). Then, with no step in between done by hand:

- the hotline's `hub inbox --ack` verifies it with the hub's published keys, says what it is ("answered by
  e-mail from <registered address>, attested by the hub") and acknowledges it;
- the hotline's console lists the next one verified and attested, never under "Not verified";
- the case timeline says the answer came by e-mail and is hub-attested;
- `hub evidence export` and `hub evidence verify` pass, naming the attested answers.

Before, each of these refused the answer as a forgery ("no key ... in the published key set")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.console import create_console_app
from hub.core.attestation import attestation_of, provenance, signed_by_hub
from hub.keyfile import write_private_jwk
from tests import test_mail_in
from tests.console_helpers import console_config, csrf_of, sign_in
from tests.factories import run_hub
from tests.test_evidence import verify_env
from tests.test_mail_in import ABUSE, MailInHub

hub = test_mail_in.hub  # the fixture: a hub with an e-mail platform, its mail server and the mail-in receiver
ATTESTED = f"answered by e-mail from {ABUSE}, attested by the hub"


async def test_an_answer_by_e_mail_is_attested_on_every_surface(
    hub: MailInHub,
    settings: Any,
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    env = verify_env(settings)
    url = str(hub.client.make_url("")).rstrip("/")
    key_file = tmp_path / "hotline.jwk"
    write_private_jwk(key_file, hub.hotline.key)
    identity = ("--key", str(key_file), "--as", hub.hotline.id, "--hub", url)
    notice = await hub.notice()

    # 1. The platform acknowledges by e-mail; the hotline's command line takes it as attested.
    code, _ = await hub.reply(notice.reply_to, "ACKNOWLEDGED")
    assert code == 250
    status, out, err = await run_hub("inbox", "--json", "--ack", *identity, env=env)
    assert status == 0, err
    [item] = [m for m in json.loads(out)["messages"] if m["type"] == "acknowledgement"]
    assert item["verified"] is True, item.get("verification_error")
    assert item["from"] == hub.platform.id
    assert item["provenance"] == ATTESTED
    assert item["attested"]["by"] == settings.hub_id
    assert item["attested"]["from_address"] == ABUSE
    assert "signed by" not in item["provenance"]
    status, out, _ = await run_hub("inbox", "--json", *identity, env=env)
    assert [m["message_id"] for m in json.loads(out)["messages"]] == []  # acknowledged: out of the inbox

    # 2. It removes the image, by e-mail too; the hotline's console lists that answer verified.
    code, _ = await hub.reply(notice.reply_to, "REMOVED")
    assert code == 250
    config = console_config(hub.hotline, url, tmp_path / "console")
    console = await aiohttp_client(create_console_app(config))
    await sign_in(console, config)
    csrf = csrf_of(await (await console.get("/inbox")).text())
    fetched = await console.post("/inbox/fetch", data={"csrf": csrf, "next": "/inbox"}, allow_redirects=False)
    assert fetched.status == 303, await fetched.text()
    page = await (await console.get("/inbox")).text()
    assert "Not verified" not in page
    assert "✓ Verified" in page
    assert ATTESTED in page
    case_page = await (await console.get(f"/cases/{notice.case_id}")).text()
    assert "signature not verified" not in case_page
    assert f"✓ verified: {ATTESTED}" in case_page
    assert "answered by e-mail, attested by the hub" in case_page  # the timeline's entries

    # 3. The case timeline, as the hotline reads it from the hub.
    view = await hub.get(hub.hotline, f"/v1/cases/{notice.case_id}")
    answers = [
        e for e in view["timeline"] if e["event"] == "message.accepted" and e["actor"] == hub.platform.id
    ]
    assert [(e["message_type"], e["channel"], e["attested_by"]) for e in answers] == [
        ("acknowledgement", "email", settings.hub_id),
        ("status-update", "email", settings.hub_id),
    ]
    assert ABUSE not in json.dumps(view["timeline"])  # the audit log keeps no address

    # 4. The evidence bundle: exported by the operator, verified offline against the hub's published keys.
    # The operator names the case by the short id the notice shows (issue 16.8).
    bundle = tmp_path / "case.zip"
    status, _, err = await run_hub("evidence", "export", notice.case_id[:8], "--out", str(bundle), env=env)
    assert status == 0, err
    jwks = str(hub.client.make_url("/.well-known/jwks.json"))
    status, out, err = await run_hub("evidence", "verify", str(bundle), "--hub-jwks", jwks, env=env)
    assert status == 0, err
    assert "2 hub-attested answers" in out
    assert out.count(ATTESTED) == 2
    assert "does NOT verify" not in out


def test_the_rule_every_verifier_applies() -> None:
    """Which keys verify a message, and what it is called (`hub.core.attestation`)."""
    attested = {
        "from": "ie-platform-test",
        "attestation": {
            "by": "test-hub",
            "channel": "email",
            "from_address": ABUSE,
            "evidence_sha256": "0" * 64,
            "received_at": "2026-06-01T09:00:00Z",
        },
    }
    assert signed_by_hub(attested, "test-hub")
    assert provenance(attested, "test-hub") == ATTESTED
    assert attestation_of(attested) is not None
    plain = {"from": "ie-platform-test"}
    assert not signed_by_hub(plain, "test-hub")  # the hub's key never speaks for it unmarked
    assert provenance(plain, "test-hub") == "signed by ie-platform-test"
    assert signed_by_hub({"from": "test-hub"}, "test-hub")
    assert provenance({"from": "test-hub"}, "test-hub") == "issued by the hub"
    with pytest.raises(ValueError, match="not by this hub"):  # another hub's attestation: not our keys
        signed_by_hub(attested, "another-hub")
