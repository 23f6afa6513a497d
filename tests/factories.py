"""Factories: plain functions and a small helper with overridable defaults. All data is fictitious."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from hub.client.envelope import new_envelope, sign_message
from hub.client.fanout import split_referral
from hub.core.clock import rfc3339, utc_now
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, b64url_encode, issue_token
from hub.core.sealing import seal
from hub.delivery.worker import DeliveryWorker, WorkerConfig
from hub.services.bindings import bind_own_key
from hub.services.intake import Intake, inline_answers
from hub.store import directory

DEFAULT_ACCEPTS = {
    "hotline": ["takedown-request", "assistance-request"],
    "platform": ["takedown-request"],
    "support-service": ["assistance-request"],
    "law-enforcement": [],
    "regulator": [],
}


@dataclass
class Member:
    id: str
    kind: str
    country: str
    key: PrivateSigningJwk
    enc: PrivateEncryptionJwk
    extra_keys: list[PrivateSigningJwk] = field(default_factory=list)

    def sign(self, envelope: dict[str, Any], key: PrivateSigningJwk | None = None) -> str:
        return sign_message(envelope, key or self.key)

    def token(self, *, audience: str = "test-hub", now: int | None = None, **kwargs: Any) -> str:
        moment = int(time.time()) if now is None else now
        return issue_token(self.key, issuer=self.id, audience=audience, now=moment, **kwargs)

    def auth(self, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kwargs)}"}


class Directory:
    """Registers fictitious participants straight into a test database, as an operator would."""

    def __init__(self, conn: asyncpg.Connection, hub_id: str = "test-hub") -> None:
        self.conn = conn
        self.hub_id = hub_id  # the hub its participants' bindings name

    async def add(
        self,
        participant_id: str,
        kind: str = "platform",
        country: str = "IE",
        *,
        accepts: Sequence[str] | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Member:
        key = PrivateSigningJwk.generate(f"{participant_id}-sig-{uuid.uuid4().hex[:6]}")
        enc = PrivateEncryptionJwk.generate(f"{participant_id}-enc-{uuid.uuid4().hex[:6]}")
        await directory.add_participant(
            self.conn,
            participant_id=participant_id,
            name=f"Fictitious {kind} {participant_id}",
            kind=kind,
            country=country,
            endpoint=None,
            accepts=DEFAULT_ACCEPTS[kind] if accepts is None else accepts,
        )
        await directory.add_key(
            self.conn,
            participant_id=participant_id,
            jwk=key.public().to_dict(),
            not_before=not_before,
            not_after=not_after,
        )
        # bound while the signing key is valid (a test may register one that has expired since)
        at = datetime.now(UTC)
        if not_after is not None and at >= not_after:
            at = not_after - timedelta(seconds=1)
        if not_before is not None and at < not_before:
            at = not_before
        await bind_encryption_key(self.conn, participant_id, key, enc, hub_id=self.hub_id, at=at)
        return Member(participant_id, kind, country, key, enc)


async def register_keys(
    conn: asyncpg.Connection,
    participant_id: str,
    key: PrivateSigningJwk,
    enc: PrivateEncryptionJwk,
    *,
    hub_id: str = "test-hub",
) -> None:
    """The operator registers the signing key (its fingerprint checked); the participant binds its
    encryption key with it (issue 18), as `hub keys bind` does."""
    await directory.add_key(conn, participant_id=participant_id, jwk=key.public().to_dict())
    await bind_encryption_key(conn, participant_id, key, enc, hub_id=hub_id)


async def bind_encryption_key(
    conn: asyncpg.Connection,
    participant_id: str,
    key: PrivateSigningJwk,
    enc: PrivateEncryptionJwk,
    *,
    hub_id: str = "test-hub",
    at: datetime | None = None,
) -> None:
    await bind_own_key(
        conn,
        hub_id=hub_id,
        participant_id=participant_id,
        signer=key,
        key=enc.public(),
        now=at or datetime.now(UTC),
    )


def sealed_for(*members: Member, plaintext: bytes = b'{"channel":"via-hotline"}') -> dict[str, Any]:
    return {
        "sealed": [
            {
                "to": m.id,
                "kid": m.enc.kid,
                "alg": "X25519-SEALEDBOX",
                "ciphertext": b64url_encode(seal(plaintext, m.enc.public())),
            }
            for m in members
        ]
    }


def takedown_body(*recipients: Member, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "intimate-image",
        "minor_depicted": "no",
        "content": [{"url": "https://photos.example.com/p/test-0001", "platform_item_id": "test-0001"}],
        "non_consent_statement": {"affirmed": True, "text": "The depicted adult did not consent to this."},
        "illegality": {
            "explanation": "An intimate image of an identifiable adult was published without consent.",
            "laws": [{"jurisdiction": "EU", "citation": "Directive (EU) 2024/1385, Art. 5"}],
        },
        "accuracy_statement": {"affirmed": True, "text": "We believe in good faith this notice is accurate."},
        "authorisation": {
            "signatory": "authorised-representative",
            "method": "hotline-attestation",
            "signed_at": rfc3339(utc_now()),
            "reference": "TEST-0001",
        },
        "contact": sealed_for(*recipients),
        "jurisdictions": ["EU"],
    }
    body.update(overrides)
    return body


def takedown(sender: Member, *recipients: Member, **overrides: Any) -> dict[str, Any]:
    return new_envelope(
        "takedown-request",
        sender=sender.id,
        to=[r.id for r in recipients],
        body=takedown_body(*recipients, **overrides),
    )


def takedown_parts(sender: Member, *recipients: Member, **overrides: Any) -> list[dict[str, Any]]:
    """A takedown request to several platforms as the client library sends it (`split_referral`): one
    part per platform, each with only its own locators and its contact sealed to its own recipients;
    recipients that are no platform ride with the first part. Without `content`, each platform gets a
    locator of its own (`fan_out_url`); a given `content` names each locator's platform with `"for"`."""
    platforms = [r for r in recipients if r.kind == "platform"]
    overrides.setdefault(
        "content",
        [{"url": fan_out_url(p), "platform_item_id": f"test-0001-{p.id}", "for": p.id} for p in platforms],
    )
    return split_takedown(takedown(sender, *recipients, **overrides), *recipients)


def split_takedown(whole: dict[str, Any], *recipients: Member) -> list[dict[str, Any]]:
    """`whole`, a takedown request to `recipients`, split by `split_referral` (each locator goes to the
    platform its `"for"` names); a sealed contact is sealed anew to each part's own recipients."""
    directory = [{"id": m.id, "kind": m.kind, "country": m.country} for m in recipients]
    parts = split_referral(whole, directory, str(whole["id"]))
    if len(parts) > 1 and "sealed" in whole["body"].get("contact", {}):
        for part in parts:
            part["body"]["contact"] = sealed_for(*(r for r in recipients if r.id in part["to"]))
    return parts


def fan_out_url(platform: Member) -> str:
    return f"https://photos.example.com/p/test-0001-{platform.id}"


@dataclass
class Referral:
    """The parts of a fan-out once the hub took them: one case, one signed part per platform."""

    case_id: str
    parts: list[dict[str, Any]]
    receipts: list[dict[str, Any]]

    def part(self, recipient: Member) -> dict[str, Any]:
        return next(p for p in self.parts if recipient.id in p["to"])

    def id_of(self, recipient: Member) -> str:
        """The id of the part `recipient` received: what its answers reply to."""
        return str(self.part(recipient)["id"])

    @property
    def ids(self) -> list[str]:
        return [str(p["id"]) for p in self.parts]


async def refer(
    accept: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]], parts: Sequence[dict[str, Any]]
) -> Referral:
    """Submit the parts in turn with `accept` (which returns the receipt), each further one naming the
    case the first opened, as `hub.client.fanout.send_referral` does."""
    receipts: list[dict[str, Any]] = []
    for part in parts:
        if receipts:
            part["case"] = receipts[0]["case_id"]
        receipts.append(await accept(part))
    return Referral(str(receipts[0]["case_id"]), list(parts), receipts)


def reply(
    message_type: str, sender: Member, to: Member, case_id: str, in_reply_to: str | None, body: dict[str, Any]
) -> dict[str, Any]:
    return new_envelope(
        message_type, sender=sender.id, to=[to.id], body=body, case=case_id, in_reply_to=in_reply_to
    )


def acknowledgement(sender: Member, to: Member, case_id: str, in_reply_to: str) -> dict[str, Any]:
    return reply("acknowledgement", sender, to, case_id, in_reply_to, {"received_at": rfc3339(utc_now())})


def removal(sender: Member, to: Member, case_id: str, in_reply_to: str) -> dict[str, Any]:
    body = {"status": "actioned", "action": "removed", "decided_at": rfc3339(utc_now())}
    return reply("status-update", sender, to, case_id, in_reply_to, body)


def jose(body: str) -> dict[str, Any]:
    return {"data": body.encode(), "headers": {"Content-Type": "application/jose"}}


def dumps(value: Any) -> str:
    return json.dumps(value)


async def add_with_endpoint(
    conn: asyncpg.Connection,
    participant_id: str,
    kind: str = "platform",
    country: str = "IE",
    endpoint: str = "http://127.0.0.1:9/hook",
    *,
    accepts: Sequence[str] | None = None,
) -> Member:
    """Like `Directory.add`, for a participant with a push endpoint: messages to it become push
    deliveries (channel 'push', adapter 'webhook') instead of waiting in its pull inbox."""
    key = PrivateSigningJwk.generate(f"{participant_id}-sig-{uuid.uuid4().hex[:6]}")
    enc = PrivateEncryptionJwk.generate(f"{participant_id}-enc-{uuid.uuid4().hex[:6]}")
    await directory.add_participant(
        conn,
        participant_id=participant_id,
        name=f"Fictitious {kind} {participant_id}",
        kind=kind,
        country=country,
        endpoint=endpoint,
        accepts=DEFAULT_ACCEPTS[kind] if accepts is None else accepts,
    )
    await register_keys(conn, participant_id, key, enc)
    return Member(participant_id, kind, country, key, enc)


# -- lifecycle messages, and a hub driven by a fake clock (deadline, routing, lifecycle, case list tests) --
def declined(sender: Member, to: Member, case_id: str, in_reply_to: str) -> dict[str, Any]:
    body = {
        "status": "declined",
        "decided_at": rfc3339(utc_now()),
        "decline_reason": "The reported item could not be found on the service when it was reviewed.",
    }
    return reply("status-update", sender, to, case_id, in_reply_to, body)


def withdrawal(
    sender: Member, to: Sequence[Member], case_id: str, in_reply_to: str | None = None, **overrides: Any
) -> dict[str, Any]:
    body = {"reason": "victim-request", "delete_data": True, **overrides}
    return new_envelope(
        "withdrawal",
        sender=sender.id,
        to=[m.id for m in to],
        body=body,
        case=case_id,
        in_reply_to=in_reply_to,
    )


def deletion_confirmation(sender: Member, to: Member, case_id: str, in_reply_to: str) -> dict[str, Any]:
    body = {"deleted_at": rfc3339(utc_now()), "scope": "all-data"}
    return reply("deletion-confirmation", sender, to, case_id, in_reply_to, body)


def information_request(
    sender: Member, to: Member, case_id: str, *, urgency: str = "routine", in_reply_to: str | None = None
) -> dict[str, Any]:
    body = {"questions": ["Please confirm which item the request is about."], "urgency": urgency}
    return reply("information-request", sender, to, case_id, in_reply_to, body)


def information_response(sender: Member, to: Member, case_id: str, in_reply_to: str) -> dict[str, Any]:
    body = {"answers": ["The request is about the first reported item."]}
    return reply("information-response", sender, to, case_id, in_reply_to, body)


def counter_notice(sender: Member, to: Member, case_id: str, in_reply_to: str) -> dict[str, Any]:
    body = {
        "received_at": rfc3339(utc_now()),
        "grounds": "consent-claimed",
        "summary": sealed_for(to, plaintext=b'{"summary":"fictitious appeal"}'),
        "reinstatement_planned": False,
    }
    return reply("counter-notice", sender, to, case_id, in_reply_to, body)


def case_closure(
    sender: Member, to: Sequence[Member], case_id: str, reason: str = "resolved"
) -> dict[str, Any]:
    return new_envelope(
        "case-closure", sender=sender.id, to=[m.id for m in to], body={"reason": reason}, case=case_id
    )


def routed(envelope: dict[str, Any], route: dict[str, Any]) -> dict[str, Any]:
    """The envelope with a routing selector instead of its `to`."""
    changed = {k: v for k, v in envelope.items() if k != "to"}
    changed["route"] = route
    return changed


def assistance_request(sender: Member, *recipients: Member, country: str = "DE") -> dict[str, Any]:
    body = {
        "services": ["emotional-support"],
        "urgency": "routine",
        "languages": ["de"],
        "country_of_residence": country,
        "consent_to_share": True,
        "summary": sealed_for(*recipients, plaintext=b'{"summary":"fictitious"}'),
        "contact": sealed_for(*recipients),
    }
    return new_envelope("assistance-request", sender=sender.id, to=[r.id for r in recipients], body=body)


class FakeClock:
    """The hub's clock, moved by the test. It starts a little ahead of real time, so that keys registered
    during the test (valid from the real `now()`) are already valid at the hub's time."""

    def __init__(self, start: datetime | None = None) -> None:
        from datetime import timedelta

        self.now = start or utc_now() + timedelta(minutes=10)

    def __call__(self) -> datetime:
        return self.now

    def ts(self) -> int:
        return int(self.now.timestamp())

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.now += timedelta(**delta)
        return self.now


@dataclass
class Api:
    """A hub app under a fake clock, as participants use it: submit, read inboxes and cases."""

    client: Any  # aiohttp's TestClient
    clock: FakeClock

    async def send(self, member: Member, envelope: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = await self.client.post("/v1/messages", **jose(member.sign(envelope)))
        return response.status, await response.json()

    async def accepted(self, member: Member, envelope: dict[str, Any]) -> dict[str, Any]:
        status, body = await self.send(member, envelope)
        assert status == 202, body
        return body

    async def refused(self, member: Member, envelope: dict[str, Any], code: str) -> dict[str, Any]:
        status, body = await self.send(member, envelope)
        assert body.get("type") == f"urn:referral-hub:problem:{code}", body
        assert status >= 400
        return body

    async def get(self, member: Member, path: str) -> tuple[int, Any]:
        response = await self.client.get(path, headers=member.auth(now=self.clock.ts()))
        return response.status, await response.json()

    async def case(self, member: Member, case_id: str) -> dict[str, Any]:
        status, view = await self.get(member, f"/v1/cases/{case_id}")
        assert status == 200, view
        return dict(view)

    async def inbox(self, member: Member) -> list[dict[str, Any]]:
        status, page = await self.get(member, "/v1/inbox?limit=100")
        assert status == 200, page
        return list(page["messages"])

    async def share(self, member: Member, case_id: str, participant: Member) -> int:
        response = await self.client.post(
            f"/v1/cases/{case_id}/shares",
            json={"participant_id": participant.id},
            headers=member.auth(now=self.clock.ts()),
        )
        return int(response.status)


def payload_of(compact: str) -> dict[str, Any]:
    """The JSON payload of a compact JWS (unverified: for reading what the hub stored)."""
    from hub.core.jose import parse_jws

    value: dict[str, Any] = json.loads(parse_jws(compact.encode()).payload)
    return value


def escalations(items: Sequence[dict[str, Any]], **body: Any) -> list[dict[str, Any]]:
    """The escalation envelopes among inbox items whose body has these values."""
    found = []
    for item in items:
        if item["type"] != "escalation":
            continue
        envelope = payload_of(item["message"])
        if all(envelope["body"].get(k) == v for k, v in body.items()):
            found.append(envelope)
    return found


def deadline_of(
    view: dict[str, Any], recipient: str, kind: str, message_id: str | None = None
) -> dict[str, Any]:
    """One clock of a case view: `kind` owed by `recipient` (for `message_id` if given)."""
    [party] = [r for r in view["recipients"] if r["participant_id"] == recipient]
    found = [
        d
        for d in party["deadlines"]
        if d["deadline"] == kind and (message_id is None or d["message_id"] == message_id)
    ]
    assert len(found) == 1, (kind, party["deadlines"])
    return dict(found[0])


# -- messages as stored: encrypted at rest with the case's data key -------------------------------------
def keyring_of(settings: Any) -> Any:
    """The keyring of a hub run with these settings (its storage key file is made on first start)."""
    from hub.keyfile import load_or_create_storage_key
    from hub.store.case_keys import Keyring

    return Keyring(load_or_create_storage_key(settings.storage_key_path))


async def stored_form(db: asyncpg.Connection, message_id: uuid.UUID, keyring: Any) -> bytes:
    """A message's exact signed form as the hub keeps it, opened with its case key."""
    row = await db.fetchrow(
        "SELECT m.signed_form, m.form_encrypted, k.wrapped_key FROM messages m "
        "LEFT JOIN case_keys k ON k.case_id = m.case_id WHERE m.id = $1",
        message_id,
    )
    assert row is not None
    return bytes(keyring.open(row["wrapped_key"], row["signed_form"], row["form_encrypted"]))


async def replace_form(db: asyncpg.Connection, message_id: uuid.UUID, form: bytes, keyring: Any) -> None:
    """Swap a stored signed form (tests of what a recipient does with a bad one), encrypted as stored."""
    from hub.store.case_keys import encrypt_for_case

    case_id = await db.fetchval("SELECT case_id FROM messages WHERE id = $1", message_id)
    sealed = await encrypt_for_case(db, keyring, case_id, form, datetime.now(UTC))
    await db.execute(
        "UPDATE messages SET signed_form = $2, form_encrypted = true WHERE id = $1", message_id, sealed
    )


# -- the command line, as an operator runs it -------------------------------------------------------------
SUBPROCESS_GUARD_SECONDS = 120
_CLI = threading.Lock()  # the environment, the working directory and sys.stdout are the process's


def run_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> tuple[int, str, str]:
    """`hub ARGS` in this process, as `python -m hub ARGS` runs it: `env` is the whole environment, stdout
    and stderr are captured, the exit code is what `main` returns or exits with, and an exception that
    escapes is a traceback on stderr and exit 1, as the interpreter would make it. Commands that handle
    signals or run until stopped belong in a real process instead (test_serve, test_console_cli, ...)."""
    from hub.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with _CLI:
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        os.environ.clear()
        os.environ.update(env)
        try:
            if cwd is not None:
                os.chdir(cwd)
            thread = threading.get_ident()  # only this thread's writes are the command's, not the hub's logs
            routed_out, routed_err = (
                _ThreadStream(thread, out, sys.stdout),
                _ThreadStream(thread, err, sys.stderr),
            )
            with contextlib.redirect_stdout(routed_out), contextlib.redirect_stderr(routed_err):
                try:
                    code = main(list(args))
                except SystemExit as exited:
                    code = _exit_code(exited.code, err)
                except Exception:
                    traceback.print_exc()
                    code = 1
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
    return code, out.getvalue(), err.getvalue()


class _ThreadStream(io.TextIOBase):
    """sys.stdout or sys.stderr while a command runs: its thread writes to the capture, any other thread
    (the test's event loop serving a hub, logging as it goes) to the stream there was before."""

    def __init__(self, thread: int, capture: io.StringIO, other: Any) -> None:
        self._thread, self._capture, self._other = thread, capture, other

    def _target(self) -> Any:
        return self._capture if threading.get_ident() == self._thread else self._other

    def write(self, text: str) -> int:
        return int(self._target().write(text))

    def flush(self) -> None:
        self._target().flush()


def _exit_code(code: object, err: io.StringIO) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=err)
    return 1


async def run_hub(*args: str, env: dict[str, str], cwd: Path | None = None) -> tuple[int, str, str]:
    """`run_cli` on a thread, so that the test's event loop keeps serving a hub the command may talk to."""
    return await asyncio.wait_for(asyncio.to_thread(run_cli, args, env, cwd), SUBPROCESS_GUARD_SECONDS)


async def run_hub_process(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """`python -m hub ARGS` in a real subprocess: for exit codes as the shell sees them."""
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", *args, stdout=pipe, stderr=pipe, env=env
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), SUBPROCESS_GUARD_SECONDS)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return int(proc.returncode or 0), out.decode(), err.decode()


def fresh_identity(hub_id: str = "test-hub", key: PrivateSigningJwk | None = None) -> HubIdentity:
    return HubIdentity(hub_id, key or PrivateSigningJwk.generate())


def delivery_worker(
    pool: asyncpg.Pool,
    dsn: str,
    adapters: Mapping[str, Any],
    intake: Intake,
    clock: Any,
    config: WorkerConfig,
    rng: Any = None,
    park_notices: Any = None,
) -> DeliveryWorker:
    """A delivery worker wired as `create_app` wires it: the hub's identity and keyring, and inline
    answers handed to intake."""
    return DeliveryWorker(
        pool,
        dsn,
        adapters,
        intake.hub,
        clock,
        config,
        keyring=intake.keyring,
        on_answer=inline_answers(intake),
        rng=rng,
        park_notices=park_notices,
    )


def with_second_signature(compact: str, key: PrivateSigningJwk) -> dict[str, Any]:
    """A compact JWS in general JSON serialisation, its signature kept and a second one by `key` added:
    what the hub never makes and must refuse where one signature is the rule (messages, tokens)."""
    protected, payload, signature = compact.split(".")
    second = b64url_encode(json.dumps({"alg": "EdDSA", "kid": key.kid}).encode())
    entries = [
        {"protected": protected, "signature": signature},
        {"protected": second, "signature": b64url_encode(key.sign(f"{second}.{payload}".encode("ascii")))},
    ]
    return {"payload": payload, "signatures": entries}
