"""Issue 16, finding 5: sealed on every path, from a hand-written file to the recipient who opens it.

`hub send` seals each value marked `{"seal": {...}}` to every recipient's current X25519 key from the
directory; `hub inbox --enc-key` and `hub open` open them; the hub refuses a message whose sealed values
do not name each recipient's current key (`sealed-key-mismatch`) or that goes to a recipient with no key
(`recipient-without-encryption-key`). Participant commands run in-process against a hub served on a real
port (the `running_hub` fixture of tests/test_cli.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.client.sealing import SealingError, check_marks
from hub.core.jose import PrivateEncryptionJwk
from hub.keyfile import write_private_jwk
from hub.schemas import load_catalog
from hub.settings import Settings
from hub.store import directory
from tests.factories import bind_encryption_key, keyring_of, sealed_for, stored_form, takedown_body
from tests.test_cli import Hub, Party, assert_ok, assert_refused, hub, hub_env, running_hub, write_json

__all__ = ["running_hub"]

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
CONTACT = {"name": "Fictitious Person", "email": "person@example.org"}


def enc_key_file(hub_: Hub, party: Party) -> Path:
    path = hub_.tmp_path / f"{party.id}-enc.jwk"
    write_private_jwk(path, party.member.enc)
    return path


def plaintext_request(*recipients: Party) -> dict[str, Any]:
    """What an analyst writes: the template with the victim's contact in clear, marked to be sealed."""
    body = takedown_body(*(r.member for r in recipients))
    body["contact"] = {"seal": CONTACT}
    return {"type": "takedown-request", "version": "1.0", "to": [r.id for r in recipients], "body": body}


async def messages_count(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM messages"))


async def test_send_seals_a_plaintext_file_and_the_platform_opens_it_in_its_inbox(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    path = write_json(running_hub.tmp_path / "request.json", plaintext_request(platform))

    receipt = await running_hub.run(hotline, "send", str(path))

    assert_ok(receipt)
    message_id = uuid.UUID(receipt.json()["message_id"])
    form = await stored_form(db, message_id, keyring_of(settings))
    assert b"person@example.org" not in form
    assert b"Fictitious" not in form
    page = await running_hub.run(
        platform, "inbox", "--json", "--enc-key", str(enc_key_file(running_hub, platform))
    )
    assert_ok(page)
    [item] = page.json()["messages"]
    assert item["verified"] is True
    assert item["opened"] == {"/body/contact": CONTACT}
    copies = item["envelope"]["body"]["contact"]["sealed"]
    assert [(c["to"], c["kid"]) for c in copies] == [(platform.id, platform.member.enc.kid)]
    # With another participant's key, nothing opens, and the reason says so.
    other = await running_hub.party("fr-platform-seal", "platform", "FR")
    theirs = await running_hub.run(
        platform, "inbox", "--json", "--enc-key", str(enc_key_file(running_hub, other))
    )
    [item] = theirs.json()["messages"]
    assert item["opened"] == {}
    assert item["not_opened"] == {"/body/contact": "sealed to another of your keys than the one given"}


async def test_send_splits_a_file_for_two_platforms_into_one_message_each_and_a_retry_is_the_same(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    """Issue 16.7 and 16.10: each platform gets only its own locator and a contact sealed to it alone,
    under one case; sending the same file again (a retry after a time-out) opens no second case."""
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    other = await running_hub.party("fr-platform-seal", "platform", "FR")
    await db.execute("UPDATE participants SET domains = '{photos.example.com}' WHERE id = $1", platform.id)
    request = plaintext_request(platform, other)
    request["body"]["content"] = [
        {"url": "https://cdn.photos.example.com/p/test-0001"},  # the platform's registered domain
        {"url": "https://unregistered.example.net/v/test-0002", "for": other.id},  # assigned by the sender
    ]
    path = write_json(running_hub.tmp_path / "request.json", request)

    sent = await running_hub.run(hotline, "send", str(path))

    assert_ok(sent)
    answer = sent.json()
    parts = answer["parts"]
    assert [p["case_id"] for p in parts] == [answer["case_id"]] * 2
    assert await db.fetchval("SELECT count(*) FROM cases") == 1
    for party, url in ((platform, "test-0001"), (other, "test-0002")):
        page = await running_hub.run(
            party, "inbox", "--json", "--enc-key", str(enc_key_file(running_hub, party))
        )
        [item] = page.json()["messages"]
        assert item["verified"] is True
        assert item["case_id"] == answer["case_id"]
        body = item["envelope"]["body"]
        assert [c["url"].rsplit("/", 1)[-1] for c in body["content"]] == [url]
        assert "for" not in body["content"][0]
        assert [c["to"] for c in body["contact"]["sealed"]] == [party.id]
        assert item["opened"] == {"/body/contact": CONTACT}

    again = await running_hub.run(hotline, "send", str(path))

    assert_ok(again)
    assert again.json() == answer  # the hub's replay: the same receipts, the same case
    assert await db.fetchval("SELECT count(*) FROM cases") == 1
    assert await messages_count(db) == 2
    # Without the record of what was signed, the fixed ids still keep a second case out.
    path.with_name(path.name + ".sent.json").unlink()
    lost = await running_hub.run(hotline, "send", str(path))
    assert_refused(lost, "duplicate-id", "already sent", "no second case")
    assert await db.fetchval("SELECT count(*) FROM cases") == 1


async def test_send_refuses_a_file_naming_a_platform_none_of_its_locators_is_on(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    """Sent as one message, the second platform would read the first one's URLs; split, it would get a
    request with nothing to act on: `hub send` says so in one line and sends nothing."""
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    other = await running_hub.party("fr-platform-seal", "platform", "FR")
    await db.execute("UPDATE participants SET domains = '{photos.example.com}' WHERE id = $1", platform.id)
    request = plaintext_request(platform, other)
    request["body"]["content"] = [{"url": "https://photos.example.com/p/test-0001"}]
    path = write_json(running_hub.tmp_path / "request.json", request)

    run = await running_hub.run(hotline, "send", str(path))

    assert_refused(
        run, f"/to: no locator of this request is on the service of {other.id}", "nothing was sent"
    )
    assert await messages_count(db) == 0


async def test_send_seals_to_the_recipients_a_routing_selector_finds(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    await db.execute("UPDATE participants SET domains = '{photos.example.com}' WHERE id = $1", platform.id)
    request = plaintext_request(platform)
    del request["to"]
    request["route"] = {"by": "content"}
    path = write_json(running_hub.tmp_path / "routed.json", request)

    assert_ok(await running_hub.run(hotline, "send", str(path)))

    page = await running_hub.run(
        platform, "inbox", "--json", "--enc-key", str(enc_key_file(running_hub, platform))
    )
    [item] = page.json()["messages"]
    assert item["opened"] == {"/body/contact": CONTACT}


async def test_a_sealed_field_in_clear_without_the_mark_is_refused_before_anything_is_sent(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    request = plaintext_request(platform)
    request["body"]["contact"] = CONTACT  # forgot the mark
    path = write_json(running_hub.tmp_path / "clear.json", request)

    run = await running_hub.run(hotline, "send", str(path))

    assert_refused(run, "/body/contact is sealed to the recipients", '{"seal": {...}}', "nothing was sent")
    assert await messages_count(db) == 0
    # A mark where the template takes no sealed value is refused too.
    request = plaintext_request(platform)
    request["body"]["notes"] = {"seal": {"text": "not a sealed field"}}
    run = await running_hub.run(hotline, "send", str(write_json(running_hub.tmp_path / "n.json", request)))
    assert_refused(run, '/body/notes is marked "seal"', "takedown-request 1.0 takes no sealed value there")
    assert await messages_count(db) == 0


async def test_send_to_a_recipient_without_an_encryption_key_is_refused_in_one_line(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    await directory.revoke_key(db, participant_id=platform.id, kid=platform.member.enc.kid, reason="test")
    path = write_json(running_hub.tmp_path / "request.json", plaintext_request(platform))

    run = await running_hub.run(hotline, "send", str(path))

    assert_refused(run, f"{platform.id} publishes no encryption key", "nothing was sent")
    assert await messages_count(db) == 0


async def test_the_hub_refuses_a_contact_sealed_to_another_participant_s_key(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    """The finding: the README's example sealed to `ie-platform-example`, sent to the real platform."""
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    example = await running_hub.party("ie-platform-example", "platform", "IE")
    request = plaintext_request(platform)
    request["body"]["contact"] = sealed_for(example.member)
    path = write_json(running_hub.tmp_path / "example.json", request)

    run = await running_hub.run(hotline, "send", str(path))

    assert_refused(run, "422", "not a recipient of this message")
    assert await messages_count(db) == 0


async def test_the_hub_refuses_a_contact_sealed_to_a_stale_key_after_rotation(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    stale = sealed_for(platform.member)  # sealed to the key it had until now
    newer = PrivateEncryptionJwk.generate(f"{platform.id}-enc-2027")
    await bind_encryption_key(db, platform.id, platform.member.key, newer)
    request = plaintext_request(platform)
    request["body"]["contact"] = stale
    path = write_json(running_hub.tmp_path / "stale.json", request)

    run = await running_hub.run(hotline, "send", str(path))

    line = assert_refused(run, "422", platform.member.enc.kid, "not its current encryption key", newer.kid)
    assert "Sealed parts do not name each recipient's current encryption key" in line
    assert await messages_count(db) == 0
    # The same request written in clear is sealed to the new key and opens with it.
    path = write_json(running_hub.tmp_path / "fresh.json", plaintext_request(platform))
    assert_ok(await running_hub.run(hotline, "send", str(path)))
    key_file = running_hub.tmp_path / "newer.jwk"
    write_private_jwk(key_file, newer)
    [item] = (await running_hub.run(platform, "inbox", "--json", "--enc-key", str(key_file))).json()[
        "messages"
    ]
    assert item["opened"] == {"/body/contact": CONTACT}


async def test_hub_open_reads_the_sealed_contact_of_a_saved_message_offline(
    running_hub: Hub, tmp_path: Path
) -> None:
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    path = write_json(running_hub.tmp_path / "request.json", plaintext_request(platform))
    assert_ok(await running_hub.run(hotline, "send", str(path)))
    [item] = (await running_hub.run(platform, "inbox", "--json")).json()["messages"]
    saved = tmp_path / "message.jws"
    saved.write_text(item["message"], "utf-8")
    key = enc_key_file(running_hub, platform)

    run = await hub("open", str(saved), "--enc-key", str(key), env=hub_env(tmp_path))

    assert_ok(run)
    opened = run.json()
    assert opened["opened"] == {"/body/contact": CONTACT}
    assert opened["message_id"] == item["message_id"]
    assert opened["from"] == hotline.id
    # With a key the message was not sealed to: exit 1 and the reason; a signing key is refused.
    stranger = tmp_path / "stranger.jwk"
    write_private_jwk(stranger, PrivateEncryptionJwk.generate("stranger"))
    closed = await hub("open", str(saved), "--enc-key", str(stranger), env=hub_env(tmp_path))
    assert closed.code == 1
    assert json.loads(closed.out)["not_opened"] == {"/body/contact": "sealed to the other recipients only"}
    wrong = await hub("open", str(saved), "--enc-key", str(platform.key_file), env=hub_env(tmp_path))
    assert_refused(wrong, "holds a signing key, not an X25519 encryption key")
    garbage = tmp_path / "notice.txt"
    garbage.write_text("not a JWS", "utf-8")
    assert_refused(
        await hub("open", str(garbage), "--enc-key", str(key), env=hub_env(tmp_path)), "not a signed message"
    )


@pytest.mark.parametrize("template", ["takedown-request", "assistance-request", "counter-notice"])
def test_the_marks_follow_each_template_s_sealed_fields(template: str) -> None:
    schema = load_catalog().schema(template, "1.0")
    examples = sorted((SCHEMAS / template / "examples" / "valid").glob("*.json"))
    example = json.loads(examples[0].read_text("utf-8"))
    check_marks(example, schema)  # sealed values as they are: fine
    marked = json.loads(json.dumps(example))
    for name, value in marked["body"].items():
        if isinstance(value, dict) and set(value) == {"sealed"}:
            marked["body"][name] = {"seal": {"text": "fictitious"}}
    check_marks(marked, schema)
    for name, value in example["body"].items():
        if isinstance(value, dict) and set(value) == {"sealed"}:
            clear = json.loads(json.dumps(example))
            clear["body"][name] = {"text": "fictitious"}
            with pytest.raises(SealingError, match=f"/body/{name} is sealed to the recipients"):
                check_marks(clear, schema)


async def test_the_readme_s_example_is_sealed_by_send_and_opened_by_the_platform(running_hub: Hub) -> None:
    readme = (SCHEMAS.parent / "README.md").read_text("utf-8")
    block = readme.split("<!-- send-example -->\n```json\n", 1)[1].split("```", 1)[0]
    request = json.loads(block)
    hotline = await running_hub.party("de-hotline-seal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-seal", "platform", "IE")
    request["to"] = [platform.id]
    path = write_json(running_hub.tmp_path / "readme.json", request)

    assert_ok(await running_hub.run(hotline, "send", str(path)))

    page = await running_hub.run(
        platform, "inbox", "--json", "--enc-key", str(enc_key_file(running_hub, platform))
    )
    [item] = page.json()["messages"]
    assert item["opened"] == {"/body/contact": request["body"]["contact"]["seal"]}
