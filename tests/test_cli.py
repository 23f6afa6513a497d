"""The `hub` command line, used as an operator and as a participant would use it.

Every command runs in this process as `python -m hub ...` would run it (`tests.factories.run_cli`: the
environment replaced, stdout and stderr captured); tests/test_cli_process.py keeps real processes for
exit codes. Operator commands run against the test's own database (`HUB_DATABASE_URL`), participant
commands against a hub served on a real TCP port by this test's event loop. Refusals must be one
`hub: error:` line on stderr, a non-zero exit and no traceback; state is checked in the database where
it matters.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from jwcrypto import jwk as jwcrypto_jwk

from hub.api.app import create_app
from hub.client import HubClient, new_envelope, sign_message
from hub.core.binding import bind_key, fingerprint
from hub.core.jose import JoseError, PrivateEncryptionJwk, PrivateSigningJwk, PublicJwk, b64url_decode
from hub.keyfile import read_private_jwk, write_private_jwk
from hub.settings import Settings
from tests.factories import (
    Directory,
    Member,
    keyring_of,
    replace_form,
    run_hub,
    stored_form,
    takedown,
    takedown_body,
)

SUBPROCESS_TIMEOUT = 60


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


async def hub(*args: str, env: dict[str, str], cwd: Path | None = None) -> Run:
    """`hub ARGS` in this process, on a thread so the event loop keeps serving the hub (`run_hub`)."""
    return Run(*await run_hub(*args, env=env, cwd=cwd))


def hub_env(tmp_path: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_DATA_DIR"] = str(tmp_path / "hub-data")
    if database_url is not None:
        env["HUB_DATABASE_URL"] = database_url
    return env


def assert_ok(run: Run) -> None:
    assert run.code == 0, run
    assert "Traceback" not in run.err, run.err


def assert_refused(run: Run, *fragments: str, code: int = 1) -> str:
    """One line on stderr, `hub: error: ...`, naming the problem; nothing on stdout; no traceback."""
    assert run.code == code, run
    assert "Traceback" not in run.err, run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("hub: error: "), run.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert run.out == ""
    return lines[0]


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), "utf-8")
    return path


def thumbprint(public: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint as an independent library computes it."""
    return str(jwcrypto_jwk.JWK(**{k: public[k] for k in ("kty", "crv", "x")}).thumbprint())


# --- Operator: keys -------------------------------------------------------------------------------


async def test_keys_generate_writes_a_private_file_0600_and_prints_the_public_jwk(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "hotline.jwk"
    run = await hub("keys", "generate", str(path), env=hub_env(tmp_path))
    assert_ok(run)

    public = run.json()
    assert "d" not in public
    assert public["kty"] == "OKP"
    assert public["crv"] == "Ed25519"
    assert public["use"] == "sig"
    assert public["kid"] == thumbprint(public)
    assert path.stat().st_mode & 0o777 == 0o600
    private = json.loads(path.read_text("utf-8"))
    assert private["d"]
    assert private["x"] == public["x"]
    key = read_private_jwk(path)
    assert isinstance(key, PrivateSigningJwk)
    assert key.public().to_dict() == public


async def test_keys_generate_kid_option_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "named.jwk"
    run = await hub("keys", "generate", str(path), "--kid", "hotline-2026", env=hub_env(tmp_path))
    assert_ok(run)
    assert run.json()["kid"] == "hotline-2026"
    assert read_private_jwk(path).kid == "hotline-2026"


async def test_keys_generate_use_enc_gives_an_x25519_key(tmp_path: Path) -> None:
    path = tmp_path / "enc.jwk"
    run = await hub("keys", "generate", str(path), "--use", "enc", env=hub_env(tmp_path))
    assert_ok(run)
    public = run.json()
    assert "d" not in public
    assert (public["crv"], public["use"]) == ("X25519", "enc")
    assert public["kid"] == thumbprint(public)
    assert path.stat().st_mode & 0o777 == 0o600
    assert isinstance(read_private_jwk(path), PrivateEncryptionJwk)


async def test_keys_generate_refuses_to_overwrite_a_file(tmp_path: Path) -> None:
    path = tmp_path / "existing.jwk"
    path.write_text("precious\n", "utf-8")
    run = await hub("keys", "generate", str(path), env=hub_env(tmp_path))
    assert_refused(run, str(path), "already exists")
    assert path.read_text("utf-8") == "precious\n"


async def test_keys_generate_under_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("x", "utf-8")
    run = await hub("keys", "generate", str(tmp_path / "not-a-dir" / "key.jwk"), env=hub_env(tmp_path))
    assert_refused(run, "not-a-dir")


# --- Operator: migrate and the directory ----------------------------------------------------------


async def test_migrate_on_a_migrated_database_says_it_is_up_to_date(
    database_url: str, tmp_path: Path
) -> None:
    run = await hub("migrate", env=hub_env(tmp_path, database_url))
    assert_ok(run)
    assert run.out.strip() == "database schema is up to date"


async def generate_public(tmp_path: Path, name: str, *extra: str) -> tuple[Path, dict[str, Any]]:
    """`hub keys generate` a key; returns the public JWK file (as an operator would save it) and JWK."""
    run = await hub("keys", "generate", str(tmp_path / f"{name}.jwk"), *extra, env=hub_env(tmp_path))
    assert_ok(run)
    public = run.json()
    return write_json(tmp_path / f"{name}.pub.json", public), public


async def test_participants_add_list_show_keeps_the_kid(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    env = hub_env(tmp_path, database_url)
    pub, public = await generate_public(tmp_path, "hotline", "--kid", "de-hotline-sig-1")

    added = await hub(
        *f"participants add de-hotline-cli --kind hotline --country de --jwk {pub}".split(),
        *("--name", "Fictitious Helpline", f"--fingerprint={fingerprint_of(public)}"),
        env=env,
    )
    assert_ok(added)
    assert added.json() == {
        "added": "de-hotline-cli",
        "kid": "de-hotline-sig-1",
        "fingerprint": fingerprint_of(public),
    }

    row = await db.fetchrow("SELECT * FROM participants WHERE id = 'de-hotline-cli'")
    assert row is not None
    assert (row["name"], row["kind"], row["country"]) == ("Fictitious Helpline", "hotline", "DE")
    assert sorted(row["accepts"]) == ["assistance-request", "takedown-request"]
    key = await db.fetchrow("SELECT * FROM participant_keys WHERE participant_id = 'de-hotline-cli'")
    assert key is not None
    assert key["kid"] == "de-hotline-sig-1"
    assert key["use"] == "sig"
    assert key["jwk"]["x"] == public["x"]
    assert "d" not in key["jwk"]

    listed = await hub("participants", "list", "--json", env=env)
    assert_ok(listed)
    assert {"id": "de-hotline-cli", "kind": "hotline", "country": "DE"}.items() <= listed.json()[0].items()
    table = await hub("participants", "list", env=env)
    assert_ok(table)
    header, row = table.out.splitlines()
    assert header.split() == ["ID", "KIND", "COUNTRY", "ACCEPTS"]
    assert row.split()[:3] == ["de-hotline-cli", "hotline", "DE"]

    shown = await hub("participants", "show", "de-hotline-cli", env=env)
    assert_ok(shown)
    view = shown.json()
    assert view["name"] == "Fictitious Helpline"
    assert [(k["kid"], k["use"], k["revoked_at"]) for k in view["keys"]] == [
        ("de-hotline-sig-1", "sig", None)
    ]


async def test_participants_add_names_a_key_without_kid_by_its_thumbprint(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    _, public = await generate_public(tmp_path, "platform", "--kid", "to-be-dropped")
    anonymous = {k: v for k, v in public.items() if k != "kid"}
    pub = write_json(tmp_path / "anonymous.pub.json", anonymous)

    run = await hub(
        *f"participants add ie-platform-cli --name Platform --kind platform --country IE --jwk {pub}".split(),
        f"--fingerprint={fingerprint_of(anonymous)}",
        env=hub_env(tmp_path, database_url),
    )
    assert_ok(run)
    expected = thumbprint(anonymous)
    assert run.json()["kid"] == expected
    kids = await db.fetch("SELECT kid FROM participant_keys WHERE participant_id = 'ie-platform-cli'")
    assert [r["kid"] for r in kids] == [expected]


def fingerprint_of(jwk: dict[str, Any]) -> str:
    return fingerprint(PublicJwk.from_dict(jwk))


async def test_a_key_bound_by_its_participant_then_revoked(
    database_url: str, db: asyncpg.Connection, directory: Directory, tmp_path: Path
) -> None:
    """Issue 18: the operator publishes only a key its participant bound; revoking the last valid
    signing key needs --force."""
    member = await directory.add("de-hotline-cli", "hotline", "DE")
    env = hub_env(tmp_path, database_url) | {"HUB_ID": "test-hub"}
    write_private_jwk(tmp_path / "member.jwk", member.key)
    nxt = PrivateSigningJwk.generate("de-hotline-next")
    write_private_jwk(tmp_path / "next.jwk", nxt)

    bound = await hub(
        *f"keys bind --as {member.id} --key {tmp_path / 'member.jwk'} --hub-id test-hub".split(),
        *("--add-key", str(tmp_path / "next.jwk"), "--new-key", str(tmp_path / "next.jwk")),
        *("--out", str(tmp_path / "next.binding")),
        env=env,
    )
    assert_ok(bound)
    added = await hub(
        "participants", "add-key", member.id, "--binding", str(tmp_path / "next.binding"), env=env
    )
    assert_ok(added)
    assert added.json() == {"participant_id": member.id, "operation": "add-key", "subject": "de-hotline-next"}
    row = await db.fetchrow("SELECT * FROM participant_keys WHERE kid = 'de-hotline-next'")
    assert row is not None
    assert (row["participant_id"], row["origin"], row["binding"]) == (
        member.id,
        "binding",
        bound.json()["binding"],
    )
    logged = await db.fetchrow(
        "SELECT actor, detail FROM audit_entries WHERE event = 'key.added' ORDER BY id DESC"
    )
    assert logged["actor"] == member.id
    assert logged["detail"]["binding"] == row["binding"]

    again = await hub(
        "participants", "add-key", member.id, "--binding", str(tmp_path / "next.binding"), env=env
    )
    assert_refused(again, "already registered")

    revoked = await hub(
        "participants", "revoke-key", member.id, "de-hotline-next", "--reason", "compromised", env=env
    )
    assert_ok(revoked)
    assert revoked.json() == {"participant": member.id, "revoked_kid": "de-hotline-next"}
    row = await db.fetchrow("SELECT * FROM participant_keys WHERE kid = 'de-hotline-next'")
    assert row is not None
    assert (row["revocation_reason"], row["revoked_at"] is not None) == ("compromised", True)
    shown = (await hub("participants", "show", member.id, env=env)).json()
    by_kid = {k["kid"]: k for k in shown["keys"]}
    assert by_kid["de-hotline-next"]["revocation_reason"] == "compromised"
    assert_refused(
        await hub("participants", "revoke-key", member.id, "de-hotline-next", env=env), "de-hotline-next"
    )

    last = await hub("participants", "revoke-key", member.id, member.key.kid, env=env)
    assert_refused(last, "last valid signing key", "--force")
    assert await db.fetchval("SELECT revoked_at FROM participant_keys WHERE kid = $1", member.key.kid) is None
    forced = await hub("participants", "revoke-key", member.id, member.key.kid, "--force", env=env)
    assert_ok(forced)


@dataclass(frozen=True)
class Refusal:
    """An operator command the hub must refuse: its arguments (given the files the test made)."""

    args: Callable[[Path, Member], Sequence[str]]
    says: tuple[str, ...]


def _add(
    participant_id: str, jwk: str, country: str = "DE", fingerprint: str | None = None
) -> Callable[[Path, Member], list[str]]:
    def args(tmp: Path, member: Member) -> list[str]:
        try:
            given = fingerprint or fingerprint_of(json.loads((tmp / jwk).read_text("utf-8")))
        except (OSError, ValueError, JoseError):
            given = "not-read"
        return [
            *("participants", "add", participant_id, "--name", "Fictitious", "--kind", "hotline"),
            *("--country", country, "--jwk", str(tmp / jwk), f"--fingerprint={given}"),
        ]

    return args


def _apply(tmp: Path, member: Member, binding: str) -> list[str]:
    (tmp / "handed.binding").write_text(binding, "utf-8")
    return ["participants", "add-key", member.id, "--binding", str(tmp / "handed.binding")]


def _bound_by(signer: PrivateSigningJwk, participant_id: str, hub_id: str = "referral-hub") -> str:
    return bind_key(
        signer,
        participant_id=participant_id,
        hub_id=hub_id,
        key=PrivateEncryptionJwk.generate("handed-enc").public(),
        issued_at=int(time.time()),
    )


OPERATOR_REFUSALS = {
    "contact email that is no address": Refusal(
        lambda tmp, m: [
            "participants",
            "update",
            m.id,
            "--contact-email",
            "abuse@x.example\nBcc: y@z.example",
        ],
        ("--contact-email", "plain e-mail address"),
    ),
    "duplicate participant": Refusal(_add("de-hotline-cli", "new.pub.json"), ("already exists",)),
    "private jwk": Refusal(_add("nl-hotline-cli", "new.jwk"), ("PRIVATE",)),
    "missing jwk file": Refusal(_add("nl-hotline-cli", "absent.json"), ("no such file", "absent.json")),
    "not a json file": Refusal(_add("nl-hotline-cli", "garbage.txt"), ("garbage.txt", "not a JSON")),
    "bad country": Refusal(_add("nl-hotline-cli", "new.pub.json", country="NLD"), ("country",)),
    "bad participant id": Refusal(_add("NL Hotline", "new.pub.json"), ("participant id",)),
    "kid already registered": Refusal(_add("nl-hotline-cli", "member.pub.json"), ("already registered",)),
    "fingerprint does not match": Refusal(
        _add("nl-hotline-cli", "new.pub.json", fingerprint="AAAA BBBB CCCC"), ("fingerprint does not match",)
    ),
    "binding by a key it does not hold": Refusal(
        lambda tmp, m: _apply(tmp, m, _bound_by(PrivateSigningJwk.generate("stranger"), m.id)),
        ("binding refused", "no key 'stranger'"),
    ),
    "binding for another hub": Refusal(
        lambda tmp, m: _apply(tmp, m, _bound_by(m.key, m.id, hub_id="other-hub")),
        ("binding refused", "other-hub"),
    ),
    "binding handed in for another participant": Refusal(
        lambda tmp, m: [
            "participants",
            "add-key",
            "xx-nobody",
            "--binding",
            _written(tmp, _bound_by(m.key, m.id)),
        ],
        ("is for 'de-hotline-cli'",),
    ),
    "not a binding": Refusal(lambda tmp, m: _apply(tmp, m, "garbage"), ("binding refused", "not a binding")),
    "delivery changed by the operator": Refusal(
        lambda tmp, m: ["participants", "update", m.id, "--endpoint", "https://elsewhere.example/hook"],
        ("binding", "hub keys bind"),
    ),
    "revoke unknown kid": Refusal(
        lambda tmp, m: ["participants", "revoke-key", m.id, "no-such-kid"], ("no-such-kid",)
    ),
    "show unknown participant": Refusal(
        lambda tmp, m: ["participants", "show", "xx-nobody"], ("no participant", "xx-nobody")
    ),
}


def _written(tmp: Path, binding: str) -> str:
    (tmp / "other.binding").write_text(binding, "utf-8")
    return str(tmp / "other.binding")


async def directory_counts(db: asyncpg.Connection) -> tuple[int, int]:
    return (
        await db.fetchval("SELECT count(*) FROM participants"),
        await db.fetchval("SELECT count(*) FROM participant_keys"),
    )


@pytest.mark.parametrize("case", OPERATOR_REFUSALS.values(), ids=OPERATOR_REFUSALS.keys())
async def test_operator_refusals_are_one_line_and_change_nothing(
    case: Refusal, database_url: str, db: asyncpg.Connection, directory: Directory, tmp_path: Path
) -> None:
    member = await directory.add("de-hotline-cli", "hotline", "DE")
    write_json(tmp_path / "member.pub.json", member.key.public().to_dict())
    write_private_jwk(tmp_path / "new.jwk", PrivateSigningJwk.generate("new-key"))
    write_json(tmp_path / "new.pub.json", PrivateSigningJwk.generate("new-key-pub").public().to_dict())
    (tmp_path / "garbage.txt").write_text("not json {", "utf-8")
    before = await directory_counts(db)

    run = await hub(*case.args(tmp_path, member), env=hub_env(tmp_path, database_url))

    assert_refused(run, *case.says)
    assert await directory_counts(db) == before
    revoked = await db.fetchval("SELECT count(*) FROM participant_keys WHERE revoked_at IS NOT NULL")
    assert revoked == 0


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["participants"],
        ["participants", "add", "de-x"],
        ["participants", "add", "de-x", "--name", "X", "--kind", "bank", "--country", "DE", "--jwk", "f"],
        ["keys", "generate"],
        ["keys", "generate", "k.jwk", "--use", "rsa"],
        ["send", "envelope.json"],
        ["inbox", "--key", "k", "--as", "x", "--wait", "soon"],
        ["ack", "--key", "k", "--as", "x"],
    ],
    ids=lambda a: " ".join(a) or "nothing",
)
async def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    run = await hub(*args, env=hub_env(tmp_path), cwd=tmp_path)
    assert run.code == 2, run
    assert "usage: hub" in run.err
    assert "Traceback" not in run.err
    assert run.out == ""
    assert not (tmp_path / "k.jwk").exists()


async def test_unreachable_database_is_a_one_line_error(tmp_path: Path) -> None:
    closed = f"postgresql://hub@127.0.0.1:{closed_port()}/hub"
    run = await hub("participants", "list", env=hub_env(tmp_path, closed))
    assert_refused(run)


# --- Participant commands against a hub on a real port ---------------------------------------------


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Party:
    member: Member
    key_file: Path

    @property
    def id(self) -> str:
        return self.member.id


class Hub:
    """A hub served on a real TCP port, with helpers to run participant commands against it."""

    def __init__(self, url: str, tmp_path: Path, directory: Directory) -> None:
        self.url = url
        self.tmp_path = tmp_path
        self.directory = directory

    async def party(self, participant_id: str, kind: str, country: str) -> Party:
        member = await self.directory.add(participant_id, kind, country)
        key_file = self.tmp_path / f"{participant_id}.jwk"
        write_private_jwk(key_file, member.key)
        return Party(member, key_file)

    async def run(self, party: Party, *args: str, hub_url: str | None = None) -> Run:
        identity = ("--key", str(party.key_file), "--as", party.id, "--hub", hub_url or self.url)
        return await hub(*args, *identity, env=hub_env(self.tmp_path), cwd=self.tmp_path)

    async def send_directly(self, sender: Party, recipient: Party) -> dict[str, Any]:
        """Put a takedown request in place through the client library, not the command line."""
        async with aiohttp.ClientSession() as session:
            client = HubClient(session, self.url, sender.id, sender.member.key)
            envelope = takedown(sender.member, recipient.member)
            return {"envelope": envelope, **(await client.send(envelope))}


@pytest.fixture
async def running_hub(
    aiohttp_server: Callable[[web.Application], Awaitable[Any]],
    settings: Settings,
    directory: Directory,
    tmp_path: Path,
) -> Hub:
    server = await aiohttp_server(create_app(settings, background=False))
    return Hub(f"http://127.0.0.1:{server.port}", tmp_path, directory)


async def test_send_fills_in_the_envelope_signs_and_prints_the_receipt(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    body = takedown_body(platform.member)
    request = {"type": "takedown-request", "version": "1.0", "to": [platform.id], "body": body}
    path = write_json(running_hub.tmp_path / "request.json", request)

    run = await running_hub.run(hotline, "send", str(path))

    assert_ok(run)
    receipt = run.json()
    assert set(receipt) >= {"message_id", "case_id", "payload_sha256", "accepted_at", "receipt"}
    uuid.UUID(receipt["case_id"])
    row = await db.fetchrow("SELECT * FROM messages WHERE id = $1", uuid.UUID(receipt["message_id"]))
    assert row is not None
    assert row["sender_id"] == hotline.id
    assert row["kid"] == hotline.member.key.kid
    assert str(row["case_id"]) == receipt["case_id"]
    assert row["payload_sha256"] == receipt["payload_sha256"]
    form = await stored_form(db, uuid.UUID(receipt["message_id"]), keyring_of(settings))
    signed = json.loads(b64url_decode(form.decode().split(".")[1]))
    assert signed["id"] == receipt["message_id"]
    assert signed["from"] == hotline.id
    assert datetime.fromisoformat(signed["created_at"].replace("Z", "+00:00")).tzinfo is not None
    assert {k: signed[k] for k in request} == request
    # The hand-written file is left as it was.
    assert json.loads(path.read_text("utf-8")) == request


async def test_inbox_verifies_shows_the_envelope_and_acks(running_hub: Hub, db: asyncpg.Connection) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    sent = await running_hub.send_directly(hotline, platform)

    run = await running_hub.run(platform, "inbox", "--json", "--ack")

    assert_ok(run)
    page = run.json()
    assert [m["message_id"] for m in page["messages"]] == [sent["message_id"]]
    item = page["messages"][0]
    assert item["verified"] is True
    assert "verification_error" not in item
    assert item["envelope"] == sent["envelope"]
    assert item["from"] == hotline.id
    state = await db.fetchval(
        "SELECT state FROM deliveries WHERE message_id = $1 AND recipient_id = $2",
        uuid.UUID(sent["message_id"]),
        platform.id,
    )
    assert state == "retrieved"

    empty = await running_hub.run(platform, "inbox", "--json")
    assert_ok(empty)
    assert empty.json()["messages"] == []


async def test_send_then_inbox_shows_what_the_command_filled_in(running_hub: Hub) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    request = {
        "type": "takedown-request",
        "version": "1.0",
        "to": [platform.id],
        "body": takedown_body(platform.member),
    }
    path = write_json(running_hub.tmp_path / "request.json", request)
    receipt = (await running_hub.run(hotline, "send", str(path))).json()

    page = (await running_hub.run(platform, "inbox", "--json")).json()

    envelope = page["messages"][0]["envelope"]
    assert page["messages"][0]["verified"] is True
    assert envelope["id"] == receipt["message_id"]
    assert envelope["from"] == hotline.id
    created = datetime.fromisoformat(envelope["created_at"].replace("Z", "+00:00"))
    assert created.tzinfo is not None
    assert {k: envelope[k] for k in request} == request


async def test_inbox_without_ack_leaves_the_message_then_ack_takes_it(running_hub: Hub) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    sent = await running_hub.send_directly(hotline, platform)

    first = (await running_hub.run(platform, "inbox", "--json")).json()
    second = (await running_hub.run(platform, "inbox", "--json")).json()
    assert [m["message_id"] for m in first["messages"]] == [sent["message_id"]]
    assert [m["message_id"] for m in second["messages"]] == [sent["message_id"]]

    acked = await running_hub.run(platform, "ack", sent["message_id"])
    assert_ok(acked)
    assert acked.json() == {"retrieved": [sent["message_id"]]}
    assert (await running_hub.run(platform, "inbox", "--json")).json()["messages"] == []


async def test_status_shows_the_case_to_the_hotline(running_hub: Hub) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    sent = await running_hub.send_directly(hotline, platform)
    assert_ok(await running_hub.run(platform, "inbox", "--json", "--ack"))

    run = await running_hub.run(hotline, "status", "--json", sent["case_id"])

    assert_ok(run)
    case = run.json()
    assert [(r["participant_id"], r["state"]) for r in case["recipients"]] == [(platform.id, "retrieved")]
    moves = [
        (e.get("from_state"), e["to_state"])
        for e in case["timeline"]
        if e["event"] == "recipient.state_changed"
    ]
    assert moves == [(None, "queued"), ("queued", "retrieved")]


async def test_inbox_and_status_print_tables_a_person_reads(running_hub: Hub) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    assert_ok(empty := await running_hub.run(platform, "inbox"))
    assert empty.out.strip() == "nothing in your inbox"
    sent = await running_hub.send_directly(hotline, platform)

    inbox = await running_hub.run(platform, "inbox", "--ack")

    assert_ok(inbox)
    header, row, *rest = inbox.out.splitlines()
    assert header.split() == ["ACCEPTED", "TYPE", "FROM", "CASE", "MESSAGE", "VERIFIED"]
    assert row.split()[3:] == ["takedown-request", hotline.id, sent["case_id"], sent["message_id"], "yes"]
    assert rest[-1].startswith("read on with --cursor ")
    assert "{" not in inbox.out  # no JSON, no envelope: the table only

    status = await running_hub.run(hotline, "status", sent["case_id"])

    assert_ok(status)
    lines = status.out.splitlines()
    assert lines[0].startswith(f"case {sent['case_id']} (takedown-request), opened by {hotline.id}")
    assert lines[1] == "status: open; you are: originator"
    recipient = lines.index(next(line for line in lines if line.startswith("RECIPIENT")))
    assert lines[recipient + 1].split()[:2] == [platform.id, "retrieved"]
    assert any(line.split()[:3] == ["acknowledge", platform.id, "open"] for line in lines)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", lines[0])  # times to the minute, in UTC
    assert not re.search(r"\dT\d", status.out)
    said = (
        f"{platform.id}: retrieved, not yet acknowledged (was: waiting in its inbox)"  # who, what, in words
    )
    assert any(line.endswith(said) for line in lines), lines
    assert any(
        line.endswith(f"{hotline.id} sent a takedown request to {platform.id}; the hub accepted it")
        for line in lines
    )


async def test_status_without_a_case_lists_one_s_cases_as_a_table(running_hub: Hub) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    assert_ok(empty := await running_hub.run(platform, "status"))
    assert empty.out.splitlines()[0] == "no cases"
    older = await running_hub.send_directly(hotline, platform)
    newer = await running_hub.send_directly(hotline, platform)

    listed = await running_hub.run(platform, "status")

    assert_ok(listed)
    header, *rows = listed.out.splitlines()
    assert header.split() == ["CASE", "TYPE", "OPENED", "YOU", "ARE", "STATE", "NEXT", "DUE", "OVERDUE"]
    assert [row.split()[0] for row in rows[:2]] == [newer["case_id"], older["case_id"]]  # newest first
    assert rows[0].split()[1:2] + rows[0].split()[5:8] == [
        "takedown-request",
        "recipient",
        "open",
        "acknowledge",
    ]
    assert re.search(r"^due today \(UTC\): \d+$", listed.out, re.M)
    assert not re.search(r"\dT\d", listed.out)  # times to the minute
    by_due = await running_hub.run(platform, "status", "--sort", "due", "--json")
    assert_ok(by_due)
    assert [c["case_id"] for c in json.loads(by_due.out)["cases"]] == [older["case_id"], newer["case_id"]]


async def test_share_lets_the_liaison_read_the_case(running_hub: Hub, db: asyncpg.Connection) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    liaison = await running_hub.party("nl-police-cli", "law-enforcement", "NL")
    sent = await running_hub.send_directly(hotline, platform)
    assert_refused(await running_hub.run(liaison, "status", "--json", sent["case_id"]), "403")

    shared = await running_hub.run(hotline, "share", sent["case_id"], liaison.id)

    assert_ok(shared)
    assert shared.json() == {"case_id": sent["case_id"], "shared_with": liaison.id}
    role = await db.fetchval(
        "SELECT role FROM case_parties WHERE case_id = $1 AND participant_id = $2",
        uuid.UUID(sent["case_id"]),
        liaison.id,
    )
    assert role == "shared"
    seen = await running_hub.run(liaison, "status", "--json", sent["case_id"])
    assert_ok(seen)
    timeline = seen.json()["timeline"]
    assert any(e["event"] == "case.shared" and e.get("subject") == liaison.id for e in timeline)


async def test_ack_of_an_unknown_message_is_refused(running_hub: Hub) -> None:
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    run = await running_hub.run(platform, "ack", str(uuid.uuid4()))
    assert_refused(run, "the hub refused", "422", "no such message")


async def test_ack_of_a_message_sent_to_someone_else_is_refused(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    other = await running_hub.party("fr-platform-cli", "platform", "FR")
    sent = await running_hub.send_directly(hotline, platform)

    assert_refused(await running_hub.run(other, "ack", sent["message_id"]), "no such message")
    state = await db.fetchval(
        "SELECT state FROM deliveries WHERE message_id = $1", uuid.UUID(sent["message_id"])
    )
    assert state == "pending"


async def test_send_as_someone_the_envelope_is_not_from_fails_before_the_hub(running_hub: Hub) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    envelope = new_envelope(
        "takedown-request", sender=platform.id, to=[platform.id], body=takedown_body(platform.member)
    )
    path = write_json(running_hub.tmp_path / "forged.json", envelope)

    # Nothing listens at this URL: had the command tried the hub, it would say it cannot reach it.
    run = await running_hub.run(hotline, "send", str(path), hub_url=f"http://127.0.0.1:{closed_port()}")

    line = assert_refused(run, platform.id, hotline.id)
    assert "cannot reach" not in line


async def test_inbox_flags_a_message_whose_signature_does_not_verify(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    sent = await running_hub.send_directly(hotline, platform)
    # The stored message is swapped for the same envelope signed by an impostor under the hotline's kid.
    impostor = PrivateSigningJwk.generate(hotline.member.key.kid)
    await replace_form(
        db,
        uuid.UUID(sent["message_id"]),
        sign_message(sent["envelope"], impostor).encode(),
        keyring_of(settings),
    )

    run = await running_hub.run(platform, "inbox", "--json", "--ack")

    assert_ok(run)
    item = run.json()["messages"][0]
    assert item["verified"] is False
    assert "signature does not verify" in item["verification_error"]
    assert "envelope" not in item


async def test_send_of_a_file_that_is_not_an_envelope_is_refused(running_hub: Hub) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    (running_hub.tmp_path / "broken.json").write_text("{not json", "utf-8")
    write_json(running_hub.tmp_path / "list.json", [1, 2])

    assert_refused(await running_hub.run(hotline, "send", "broken.json"), "broken.json", "JSON")
    assert_refused(await running_hub.run(hotline, "send", "list.json"), "list.json", "object")
    assert_refused(await running_hub.run(hotline, "send", "absent.json"), "no such file", "absent.json")


async def test_send_of_an_invalid_request_reports_the_hubs_refusal(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    body = takedown_body(platform.member)
    del body["illegality"]
    request = {"type": "takedown-request", "version": "1.0", "to": [platform.id], "body": body}
    path = write_json(running_hub.tmp_path / "request.json", request)

    run = await running_hub.run(hotline, "send", str(path))

    assert_refused(run, "the hub refused", "422")
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


async def test_send_names_each_schema_fault_by_pointer_and_place_in_the_file(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    body = takedown_body(platform.member)
    del body["illegality"]
    body["category"] = 7
    request = {"type": "takedown-request", "version": "1.0", "to": [platform.id], "body": body}
    path = running_hub.tmp_path / "request.json"
    text = json.dumps(request, indent=2)
    path.write_text(text, "utf-8")
    # Where a person reading the file finds the wrong value, and the object the missing property belongs in
    lines = text.splitlines()
    category = next(n for n, line in enumerate(lines, 1) if '"category": 7' in line)
    category_column = lines[category - 1].index("7") + 1
    body_line = next(n for n, line in enumerate(lines, 1) if '"body":' in line)
    body_column = lines[body_line - 1].index("{") + 1

    line = assert_refused(await running_hub.run(hotline, "send", str(path)), "the hub refused", "422")

    assert f"/body/category ({path} line {category} column {category_column}): " in line
    assert f"/body/illegality (in the value at {path} line {body_line} column {body_column}): " in line
    assert "illegality" in line.split("/body/illegality", 1)[1]
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


async def test_send_of_broken_json_says_the_line_and_column(running_hub: Hub) -> None:
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    broken = '{\n  "type": "takedown-request",\n  "to" ["x"]\n}'
    (running_hub.tmp_path / "broken.json").write_text(broken, "utf-8")

    line = assert_refused(await running_hub.run(hotline, "send", "broken.json"), "broken.json")

    assert "line 3 column 8" in line


async def test_the_hub_url_option_names_hub_url_in_its_help() -> None:
    run = await hub("send", "--help", env={"PATH": os.environ["PATH"]})
    assert "HUB_URL" in run.out


async def test_a_missing_key_file_is_a_one_line_error(running_hub: Hub) -> None:
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    platform.key_file.unlink()
    run = await running_hub.run(platform, "inbox", "--json")
    assert_refused(run, "no key file", str(platform.key_file))


async def test_an_encryption_key_file_is_refused_for_signing(running_hub: Hub) -> None:
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    platform.key_file.unlink()
    write_private_jwk(platform.key_file, platform.member.enc)
    run = await running_hub.run(platform, "inbox", "--json")
    assert_refused(run, "encryption key")


async def test_an_unreachable_hub_is_a_one_line_error(running_hub: Hub) -> None:
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    url = f"http://127.0.0.1:{closed_port()}"
    run = await running_hub.run(platform, "inbox", "--json", hub_url=url)
    assert_refused(run, "cannot reach the hub", url)


async def test_a_url_that_is_not_a_hub_is_a_one_line_error(
    aiohttp_server: Callable[[web.Application], Awaitable[Any]], running_hub: Hub
) -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad gateway</html>", content_type="text/html")

    proxy = web.Application()
    proxy.router.add_route("*", "/{tail:.*}", html)
    server = await aiohttp_server(proxy)
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    run = await running_hub.run(platform, "inbox", "--json", hub_url=f"http://127.0.0.1:{server.port}")
    assert_refused(run)


async def test_status_and_share_take_the_short_id_the_console_and_notices_show(running_hub: Hub) -> None:
    """Issue 16.8: the first 8 hex digits shown as a case's short id (or any unambiguous prefix of at
    least 6) work wherever the command line takes a case id; a prefix is looked up among the cases the
    caller may read, so an unknown or foreign one is refused in one line naming no case."""
    hotline = await running_hub.party("de-hotline-cli", "hotline", "DE")
    platform = await running_hub.party("ie-platform-cli", "platform", "IE")
    liaison = await running_hub.party("nl-police-cli", "law-enforcement", "NL")
    sent = await running_hub.send_directly(hotline, platform)
    short = sent["case_id"][:8]

    run = await running_hub.run(hotline, "status", "--json", short)
    assert_ok(run)
    assert run.json()["case_id"] == sent["case_id"]
    assert_ok(await running_hub.run(platform, "status", "--json", short.upper()))

    refused = await running_hub.run(liaison, "status", "--json", short)  # not shared yet: it cannot find it
    assert refused.code != 0
    assert "no case you can read" in refused.err
    assert sent["case_id"] not in refused.err + refused.out

    shared = await running_hub.run(hotline, "share", short, liaison.id)
    assert_ok(shared)
    assert shared.json()["case_id"] == sent["case_id"]
    assert_ok(await running_hub.run(liaison, "status", "--json", short))

    too_short = await running_hub.run(hotline, "status", "--json", short[:4])
    assert too_short.code != 0
    assert "at least 6 hex digits" in too_short.err
