"""One contract, run over every registered adapter: the built-in ones and any plugin installed under the
`referral_hub.adapters` entry-point group.

Each adapter needs an entry in `FIXTURES`: a valid destination configuration, values of the wrong type,
and three local destinations (one that accepts, one that refuses for good, one that is down). An adapter
registered without an entry FAILS the suite (it is never skipped), so a new adapter cannot escape the
contract. The contract:

- `name` is a stable lowercase identifier, equal to its registry key;
- `config_type` is a frozen dataclass whose `from_mapping` builds it from a valid configuration and
  refuses an unknown key and a wrongly typed value with `AdapterConfigError`, building nothing;
- `pushes` is a bool;
- `deliver` returns a `DeliveryOutcome` and never raises: delivered to the accepting destination (which
  gets the exact signed message once; a hash bank, which takes no message, gets exactly the message's
  hashes once, as its fixture's `carried` spells them out), permanent or attention from the refusing
  one, retry when it is down, attention when the stored configuration is unusable; its detail never
  names the destination;
- the registry leaves out an adapter whose factory raises, and a plugin that fails to load, and keeps
  the others; a working plugin is built and used by the delivery worker.

Nothing here waits on a clock: servers are local and answer at once, and "down" is a port that is bound
but never listens, so connecting to it is refused immediately.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import email.policy
import json
import random
import re
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import EntryPoint
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from structlog.testing import capture_logs

from adapters.base import (
    Adapter,
    AdapterConfigError,
    AdapterContext,
    AdapterFactory,
    Destination,
    OutboundMessage,
    no_extra_keys,
)
from adapters.registry import BUILT_IN, ENTRY_POINT_GROUP, build_adapters, plugin_factories, validate_config
from hub.core.clock import utc_now
from hub.core.delivery_outcome import DeliveryOutcome, Verdict
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, PublicJwk, parse_jws, sha256_hex
from hub.core.receipt import sign_receipt
from hub.core.templates import TemplateCatalog
from hub.delivery.worker import WorkerConfig
from hub.keyfile import load_or_create_signing_key
from hub.services.intake import Intake, submit_message
from hub.settings import Settings
from hub.store import directory as directory_store
from hub.store.database import create_pool
from tests.factories import (
    Directory,
    Member,
    delivery_worker,
    keyring_of,
    payload_of,
    register_keys,
    takedown,
)

Scenario = Literal["accepting", "refusing", "down", "misconfigured"]
SCENARIOS: tuple[Scenario, ...] = ("accepting", "refusing", "down", "misconfigured")
NAME = re.compile(r"[a-z][a-z0-9_-]{1,40}")  # what participants.adapter admits
GUARD = 15.0  # seconds: a bound on waits that should end at once; never a timing assertion


# -- what each adapter is tested with ---------------------------------------------------------------------
@dataclass
class Setup:
    """One scenario, ready: the adapter to call, the destination to call it with, and what the
    destination received (the signed messages it got, read back from the wire)."""

    adapter: Adapter
    destination: Destination
    received: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fixture:
    valid_config: Mapping[str, Any]
    endpoint: str | None
    wrong_types: tuple[tuple[str, Any], ...]
    open: Callable[[Scenario, AdapterContext, contextlib.AsyncExitStack], Awaitable[Setup]]
    expect: Mapping[Scenario, frozenset[Verdict]] = field(
        default_factory=lambda: {
            "accepting": frozenset({Verdict.DELIVERED}),
            "refusing": frozenset({Verdict.PERMANENT, Verdict.ATTENTION}),
            "down": frozenset({Verdict.RETRY}),
            "misconfigured": frozenset({Verdict.ATTENTION}),
        }
    )
    expect_detail: str | None = None
    # what a pushing adapter's accepting destination must have received for `message`, read back from
    # the wire: the exact signed form, unless the destination is a bank that takes hashes only
    carried: Callable[[OutboundMessage], list[str]] = lambda message: [message.signed_form]


def refused_port(stack: contextlib.ExitStack | contextlib.AsyncExitStack) -> int:
    """A port that is bound (so nobody else takes it) but never listens: a destination that is down."""
    sock = stack.enter_context(socket.socket())
    sock.bind(("127.0.0.1", 0))
    return int(sock.getsockname()[1])


# pull: nothing is pushed, whatever the destination; the message waits in the inbox.
async def open_pull(scenario: Scenario, context: AdapterContext, stack: contextlib.AsyncExitStack) -> Setup:
    config = {"bogus": 1} if scenario == "misconfigured" else {}
    return Setup(BUILT_IN["pull"](context), Destination("ie-platform-test", None, config))


PULL = Fixture(
    valid_config={},
    endpoint=None,
    wrong_types=(),  # it takes no configuration: there is no value to get wrong
    open=open_pull,
    expect=dict.fromkeys(SCENARIOS, frozenset({Verdict.DELIVERED})),
    expect_detail="held in the recipient's pull inbox",
)


# webhook: a local HTTP receiver.
async def open_webhook(
    scenario: Scenario, context: AdapterContext, stack: contextlib.AsyncExitStack
) -> Setup:
    received: list[str] = []

    async def accept(request: web.Request) -> web.Response:
        received.append((await request.json())["message"])
        return web.json_response({"status": "applied"})

    async def refuse(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "gone"}, status=410)

    if scenario == "down":
        url = f"http://127.0.0.1:{refused_port(stack)}/hook"
    else:
        app = web.Application()
        app.router.add_post("/hook", refuse if scenario == "refusing" else accept)
        runner = web.AppRunner(app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    config: dict[str, Any] = {"timeout_seconds": "soon"} if scenario == "misconfigured" else {}
    return Setup(BUILT_IN["webhook"](context), Destination("ie-platform-test", url, config), received)


WEBHOOK = Fixture(
    valid_config={"url": "https://platform.example.net/hook", "timeout_seconds": 5},
    endpoint=None,
    wrong_types=(("timeout_seconds", "fast"), ("timeout_seconds", True), ("url", 42), ("url", ["x"])),
    open=open_webhook,
)


# email: a local SMTP server (aiosmtpd, in this event loop); the SMTP server is the hub's setting.
class SmtpHandler:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.messages: list[bytes] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK: queued"


def attached_messages(raw: bytes) -> list[str]:
    """The signed messages (application/jose attachments named message.jws) of an e-mail."""
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    return [
        part.get_content().decode() if isinstance(part.get_content(), bytes) else str(part.get_content())
        for part in mail.walk()
        if part.get_content_type() == "application/jose" and part.get_filename() == "message.jws"
    ]


async def open_email(scenario: Scenario, context: AdapterContext, stack: contextlib.AsyncExitStack) -> Setup:
    from aiosmtpd.smtp import SMTP

    from adapters.email import EmailAdapter
    from hub.settings import MailSettings

    handler = SmtpHandler(refuse=scenario == "refusing")
    if scenario == "down":
        port = refused_port(stack)
    else:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
        stack.callback(server.close)
        port = int(server.sockets[0].getsockname()[1])
    settings = MailSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_timeout_seconds=GUARD,
        mail_from="hub@hub.example.org",
        reply_domain="hub.example.org",
    )
    config: dict[str, Any] = {"to": "abuse@platform.example.net"}
    if scenario == "misconfigured":
        config = {"to": "not an address"}
    setup = Setup(
        EmailAdapter.with_settings(context, settings), Destination("ie-platform-test", None, config)
    )

    def read_back() -> None:
        setup.received.extend(m for raw in handler.messages for m in attached_messages(raw))

    stack.callback(read_back)
    return setup


EMAIL = Fixture(
    valid_config={
        "to": "abuse@platform.example.net",
        "language": "en",
        "reply_from": ["abuse@platform.example.net"],
    },
    endpoint=None,
    wrong_types=(
        ("to", 42),
        ("language", 7),
        ("reply_from", "abuse@platform.example.net"),
        ("reply_from", [1]),
    ),
    open=open_email,
)

# coop: a local server speaking Coop's report API (tests/test_coop_adapter.py checks the shape in full).
COOP_KEY = "coop-test-api-key-0001"


async def open_coop(scenario: Scenario, context: AdapterContext, stack: contextlib.AsyncExitStack) -> Setup:
    received: list[str] = []

    async def accept(request: web.Request) -> web.Response:
        if request.headers.get("X-API-KEY") != COOP_KEY:
            return web.json_response({"errors": [{"title": "Invalid API Key"}]}, status=401)
        received.append((await request.json())["reportedItem"]["data"]["message"])
        return web.json_response({"reportId": str(uuid.uuid4())}, status=201)

    async def refuse(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"errors": [{"title": "Invalid API Key"}]}, status=403)

    if scenario == "down":
        url = f"http://127.0.0.1:{refused_port(stack)}"
    else:
        app = web.Application()
        app.router.add_post("/api/v1/report", refuse if scenario == "refusing" else accept)
        runner = web.AppRunner(app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    folder = stack.enter_context(tempfile.TemporaryDirectory())
    key_file = Path(folder) / "coop-api-key"
    key_file.write_text(COOP_KEY + "\n")
    config: dict[str, Any] = {**COOP.valid_config, "url": url, "api_key_file": str(key_file)}
    if scenario == "misconfigured":
        config["timeout_seconds"] = "soon"
    return Setup(BUILT_IN["coop"](context), Destination("ie-platform-test", None, config), received)


COOP = Fixture(
    valid_config={
        "url": "https://coop.platform.example.net",
        "api_key_file": "/run/secrets/coop-api-key",
        "item_type_id": "ncii-referral",
        "reporter_type_id": "hub-user",
        "reporter_id": "referral-hub",
        "policy_id": "ncii",
        "actions": {"remove-ncii": "removed", "not-ncii": "declined"},
        "timeout_seconds": 5,
    },
    endpoint=None,
    wrong_types=(
        ("timeout_seconds", "fast"),
        ("url", 42),
        ("api_key_file", 42),
        ("item_type_id", 7),
        ("reporter_id", ["x"]),
        ("policy_id", 1),
        ("signature_key", 5),
        ("actions", ["remove-ncii"]),
        ("actions", {"remove-ncii": 1}),
    ),
    open=open_coop,
)

# hub: a local peer hub's forwarding endpoint, answering with a receipt signed by the peer's key, which
# the context gives as the peer's (its directory entry's) key.
PEER_HUB = "hub-b.example.eu"


async def open_hub(scenario: Scenario, context: AdapterContext, stack: contextlib.AsyncExitStack) -> Setup:
    received: list[str] = []
    peer_key = PrivateSigningJwk.generate("hub-b-key")

    async def accept(request: web.Request) -> web.Response:
        forwarded = await request.json()
        received.append(forwarded["message"])
        payload = parse_jws(forwarded["message"]).payload
        envelope = json.loads(payload)
        receipt = sign_receipt(
            peer_key,
            hub_id=PEER_HUB,
            message_id=uuid.UUID(envelope["id"]),
            message_type=envelope["type"],
            sender=f"{envelope['from']}@test-hub",
            recipients=["ie-platform-test"],
            case_id=uuid.uuid4(),
            payload_sha256=sha256_hex(payload),
            accepted_at=utc_now(),
        )
        return web.json_response({"receipt": receipt}, status=202)

    async def refuse(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"type": "urn:referral-hub:problem:not-for-this-hub"}, status=422)

    async def keys(peer: str) -> list[PublicJwk]:
        return [peer_key.public()] if peer == PEER_HUB else []

    if scenario == "down":
        url = f"http://127.0.0.1:{refused_port(stack)}"
    else:
        app = web.Application()
        app.router.add_post("/v1/federation/messages", refuse if scenario == "refusing" else accept)
        runner = web.AppRunner(app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    config: dict[str, Any] = {"timeout_seconds": "soon"} if scenario == "misconfigured" else {}
    adapter = BUILT_IN["hub"](dataclasses.replace(context, peer_keys=keys))
    return Setup(adapter, Destination(f"ie-platform-test@{PEER_HUB}", url, config), received)


HUB = Fixture(
    valid_config={"timeout_seconds": 5},
    endpoint="https://hub-b.example.eu",
    wrong_types=(("timeout_seconds", "fast"), ("timeout_seconds", True)),
    open=open_hub,
)

# hma: a local server speaking HMA's curation API (POST /c/bank/<bank>/signal); it records each body.
PDQ = "f" * 8 + "0" * 56
MD5 = "0123456789abcdef0123456789abcdef"


async def open_hma(scenario: Scenario, context: AdapterContext, stack: contextlib.AsyncExitStack) -> Setup:
    received: list[str] = []

    async def bank(request: web.Request) -> web.Response:
        if request.match_info["bank"] != "NCII_HUB":
            return web.json_response({"message": "bank 'X' not found"}, status=404)
        body = await request.json()
        received.append(json.dumps(body, sort_keys=True))
        signals = {k: v for k, v in body.items() if k != "note"}
        return web.json_response({"id": len(received), "signals": signals})

    if scenario == "down":
        url = f"http://127.0.0.1:{refused_port(stack)}"
    else:
        app = web.Application()
        app.router.add_post("/c/bank/{bank}/signal", bank)
        runner = web.AppRunner(app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    config: dict[str, Any] = {"url": url, "bank": "NCII_HUB"}
    if scenario == "refusing":
        config["bank"] = "NO_SUCH_BANK"
    if scenario == "misconfigured":
        config["bank"] = "lower case"
    return Setup(BUILT_IN["hma"](context), Destination("ie-platform-test", None, config), received)


def hma_carried(message: OutboundMessage) -> list[str]:
    """The one content item of `outbound_message`, its hashes under HMA's signal type names."""
    body = {"pdq": PDQ, "video_md5": MD5, "note": f"referral-hub {message.message_id} item 0"}
    return [json.dumps(body, sort_keys=True)]


HMA = Fixture(
    valid_config={"url": "http://hma.platform.example.net:5000", "bank": "NCII_HUB", "signal_types": ["pdq"]},
    endpoint=None,
    wrong_types=(
        ("bank", 7),
        ("url", ["x"]),
        ("signal_types", "pdq"),
        ("signal_types", [1]),
        ("timeout_seconds", "fast"),
    ),
    open=open_hma,
    carried=hma_carried,
)

FIXTURES: dict[str, Fixture] = {
    "pull": PULL,
    "webhook": WEBHOOK,
    "email": EMAIL,
    "coop": COOP,
    "hub": HUB,
    "hma": HMA,
}


def registered() -> dict[str, AdapterFactory]:
    """Every adapter this hub would build: the built-in ones and the installed plugins."""
    return {**BUILT_IN, **plugin_factories()}


REGISTERED = sorted(registered())


def fixture_for(name: str) -> Fixture:
    if name not in FIXTURES:
        pytest.fail(
            f"adapter '{name}' is registered but has no entry in FIXTURES: add one to run the contract"
        )
    return FIXTURES[name]


# -- shared plumbing --------------------------------------------------------------------------------------
@pytest_asyncio.fixture
async def context() -> AsyncIterator[AdapterContext]:
    async with aiohttp.ClientSession() as session:
        yield AdapterContext(
            session, HubIdentity("test-hub", PrivateSigningJwk.generate("hub-test-key")), utc_now
        )


def fictitious_member(pid: str, kind: str, country: str) -> Member:
    return Member(
        pid,
        kind,
        country,
        PrivateSigningJwk.generate(f"{pid}-sig"),
        PrivateEncryptionJwk.generate(f"{pid}-enc"),
    )


def outbound_message(context: AdapterContext) -> OutboundMessage:
    """A takedown request as the hub would hand it to an adapter: signed by a hotline, with a receipt."""
    hotline = fictitious_member("de-hotline-test", "hotline", "DE")
    platform = fictitious_member("ie-platform-test", "platform", "IE")
    hashes = [{"alg": "pdq", "value": PDQ}, {"alg": "md5", "value": MD5}]  # for the adapters that bank them
    locator = {"url": "https://photos.example.com/p/test-0001", "platform_item_id": "test-0001"}
    envelope = takedown(hotline, platform, content=[{**locator, "hashes": hashes}])
    signed = hotline.sign(envelope)
    payload = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    message_id, case_id, accepted_at = uuid.UUID(envelope["id"]), uuid.uuid4(), utc_now()
    receipt = sign_receipt(
        context.hub.key,
        hub_id=context.hub.hub_id,
        message_id=message_id,
        message_type="takedown-request",
        sender=hotline.id,
        recipients=[platform.id],
        case_id=case_id,
        payload_sha256=sha256_hex(payload),
        accepted_at=accepted_at,
    )
    assert payload_of(signed) == envelope
    return OutboundMessage(
        message_id=message_id,
        case_id=case_id,
        sender=hotline.id,
        recipient=platform.id,
        message_type="takedown-request",
        version="1.0",
        accepted_at=accepted_at,
        payload_sha256=sha256_hex(payload),
        signed_form=signed,
        receipt=receipt,
        attempt=1,
    )


def destination_words(destination: Destination) -> list[str]:
    """What would identify the destination in a detail: its URL, its addresses."""
    values = [destination.endpoint, *destination.config.values()]
    return [v for v in values if isinstance(v, str) and v]


# -- the contract -----------------------------------------------------------------------------------------
def test_every_registered_adapter_has_a_contract_fixture() -> None:
    missing = sorted(set(registered()) - set(FIXTURES))
    assert not missing, f"registered adapters without a contract fixture: {missing}"


def test_the_built_in_adapters_are_registered() -> None:
    assert {"pull", "webhook"} <= set(BUILT_IN)


@pytest.mark.parametrize("name", REGISTERED)
def test_name_is_a_stable_lowercase_identifier_equal_to_its_key(name: str, context: AdapterContext) -> None:
    fixture_for(name)
    first, second = registered()[name](context), registered()[name](context)
    assert first.name == name
    assert second.name == first.name == type(first).name  # a class attribute, not chosen per instance
    assert NAME.fullmatch(name)


@pytest.mark.parametrize("name", REGISTERED)
def test_pushes_is_a_bool(name: str, context: AdapterContext) -> None:
    fixture_for(name)
    assert type(registered()[name](context).pushes) is bool


@pytest.mark.parametrize("name", REGISTERED)
def test_config_type_is_a_frozen_dataclass_built_from_a_valid_configuration(
    name: str, context: AdapterContext
) -> None:
    fixture = fixture_for(name)
    config_type = registered()[name](context).config_type
    assert dataclasses.is_dataclass(config_type)
    assert config_type.__dataclass_params__.frozen
    given = dict(fixture.valid_config)
    config = config_type.from_mapping(MappingProxyType(given), fixture.endpoint)  # read, never written
    assert isinstance(config, config_type)
    assert config == config_type.from_mapping(dict(fixture.valid_config), fixture.endpoint)
    assert given == fixture.valid_config
    for each in dataclasses.fields(config_type):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(config, each.name, getattr(config, each.name))
    if name in BUILT_IN:
        validate_config(name, fixture.valid_config, fixture.endpoint)  # the registry agrees


@pytest.mark.parametrize("name", REGISTERED)
def test_config_refuses_an_unknown_key(name: str, context: AdapterContext) -> None:
    fixture = fixture_for(name)
    config_type = registered()[name](context).config_type
    with pytest.raises(AdapterConfigError):
        config_type.from_mapping({**fixture.valid_config, "no_such_option": 1}, fixture.endpoint)
    if name in BUILT_IN:
        with pytest.raises(AdapterConfigError):
            validate_config(name, {**fixture.valid_config, "no_such_option": 1}, fixture.endpoint)


WRONGLY_TYPED = [
    pytest.param(name, key, value, id=f"{name}-{key}={value!r}")
    for name in REGISTERED
    for key, value in (FIXTURES[name].wrong_types if name in FIXTURES else ())
]


@pytest.mark.parametrize(("name", "key", "value"), WRONGLY_TYPED)
def test_config_refuses_a_wrongly_typed_value(
    name: str, key: str, value: Any, context: AdapterContext
) -> None:
    fixture = fixture_for(name)
    config_type = registered()[name](context).config_type
    with pytest.raises(AdapterConfigError):
        config_type.from_mapping(MappingProxyType({**fixture.valid_config, key: value}), fixture.endpoint)


@pytest.mark.parametrize("name", REGISTERED)
def test_an_adapter_lists_wrongly_typed_values_unless_it_takes_no_configuration(
    name: str, context: AdapterContext
) -> None:
    fixture = fixture_for(name)
    fields = dataclasses.fields(registered()[name](context).config_type)  # type: ignore[arg-type]
    assert fixture.wrong_types or fields == (), f"{name}: list wrongly typed values for {fields}"


async def deliver(
    name: str, scenario: Scenario, context: AdapterContext
) -> tuple[DeliveryOutcome, Setup, OutboundMessage]:
    """Deliver one message in `scenario`; whatever happens, `deliver` must return an expected outcome."""
    fixture = fixture_for(name)
    message = outbound_message(context)
    async with contextlib.AsyncExitStack() as stack:
        setup = await fixture.open(scenario, context, stack)
        outcome = await asyncio.wait_for(setup.adapter.deliver(message, setup.destination), GUARD)
    assert isinstance(outcome, DeliveryOutcome)
    assert outcome.verdict in fixture.expect[scenario], (scenario, outcome)
    assert isinstance(outcome.detail, str)
    assert outcome.detail
    for word in destination_words(setup.destination):
        assert word not in outcome.detail, f"the detail names the destination: {outcome.detail!r}"
    if fixture.expect_detail is not None:
        assert outcome.detail == fixture.expect_detail
    return outcome, setup, message


@pytest.mark.parametrize("name", REGISTERED)
async def test_delivered_to_a_destination_that_accepts(name: str, context: AdapterContext) -> None:
    _, setup, message = await deliver(name, "accepting", context)
    if setup.adapter.pushes:  # the destination got the message once, exactly as signed (a bank: its hashes)
        assert setup.received == fixture_for(name).carried(message)


@pytest.mark.parametrize("name", REGISTERED)
async def test_permanent_or_attention_from_a_destination_that_refuses(
    name: str, context: AdapterContext
) -> None:
    _, setup, _ = await deliver(name, "refusing", context)
    assert setup.received == []


@pytest.mark.parametrize("name", REGISTERED)
async def test_retry_when_the_destination_is_down(name: str, context: AdapterContext) -> None:
    await deliver(name, "down", context)


@pytest.mark.parametrize("name", REGISTERED)
async def test_attention_when_the_stored_configuration_is_unusable(
    name: str, context: AdapterContext
) -> None:
    await deliver(name, "misconfigured", context)


# -- the registry -----------------------------------------------------------------------------------------
def exploding_factory(context: AdapterContext) -> Adapter:
    raise RuntimeError("this adapter cannot be built")


def test_an_adapter_whose_factory_raises_is_left_out_and_the_others_build(context: AdapterContext) -> None:
    with capture_logs() as logs:
        adapters = build_adapters(context, {**BUILT_IN, "exploding": exploding_factory})

    assert sorted(adapters) == sorted(BUILT_IN)
    assert all(adapters[name].name == name for name in BUILT_IN)
    assert {"event": "adapters.build_failed", "adapter": "exploding", "error": "RuntimeError"}.items() <= (
        next(e for e in logs if e["event"] == "adapters.build_failed").items()
    )


def test_an_adapter_under_another_name_is_left_out(context: AdapterContext) -> None:
    with capture_logs() as logs:
        adapters = build_adapters(context, {**BUILT_IN, "alias": BUILT_IN["webhook"]})

    assert sorted(adapters) == sorted(BUILT_IN)
    assert [e["event"] for e in logs] == ["adapters.name_mismatch"]


def entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_a_plugin_that_fails_to_load_is_logged_and_skipped() -> None:
    broken = entry_point("broken", "no_such_module:thing")
    working = entry_point("pigeon", f"{__name__}:PigeonAdapter")
    with capture_logs() as logs:
        found = plugin_factories([broken, working])

    assert found == {"pigeon": PigeonAdapter}
    [event] = logs
    assert (event["event"], event["plugin"], event["log_level"]) == (
        "adapters.plugin_failed",
        "broken",
        "error",
    )
    assert event["error"] == "ModuleNotFoundError"


def test_a_plugin_cannot_take_a_built_in_name() -> None:
    with capture_logs() as logs:
        found = plugin_factories([entry_point("webhook", f"{__name__}:PigeonAdapter")])

    assert found == {}
    assert [(e["event"], e["plugin"]) for e in logs] == [("adapters.plugin_shadows_builtin", "webhook")]


# -- a working plugin, through the delivery worker --------------------------------------------------------
@dataclass(frozen=True)
class PigeonConfig:
    loft: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], endpoint: str | None) -> PigeonConfig:
        no_extra_keys(data, {"loft"})
        loft = data.get("loft")
        if not isinstance(loft, str) or not loft:
            raise AdapterConfigError("'loft' must name the platform's pigeon loft")
        return cls(loft)


class PigeonAdapter:
    """A third party's adapter, as a plugin would publish it (entry point `pigeon`): it records what it
    is asked to carry."""

    name: ClassVar[str] = "pigeon"
    config_type: ClassVar[type[PigeonConfig]] = PigeonConfig
    pushes: ClassVar[bool] = True
    carried: ClassVar[list[tuple[OutboundMessage, PigeonConfig]]] = []

    def __init__(self, context: AdapterContext) -> None:
        self._context = context

    async def deliver(self, message: OutboundMessage, destination: Destination) -> DeliveryOutcome:
        try:
            config = PigeonConfig.from_mapping(destination.config, destination.endpoint)
        except AdapterConfigError as exc:
            return DeliveryOutcome(Verdict.ATTENTION, f"configuration: {exc}")
        self.carried.append((message, config))
        return DeliveryOutcome(Verdict.DELIVERED, "released at the loft")


async def test_a_working_plugin_is_built_and_used_by_the_worker(
    settings: Settings, db: asyncpg.Connection, directory: Directory, catalog: TemplateCatalog
) -> None:
    PigeonAdapter.carried.clear()
    factories = {**BUILT_IN, **plugin_factories([entry_point("pigeon", f"{__name__}:PigeonAdapter")])}
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = fictitious_member("ie-platform-pigeon", "platform", "IE")
    PigeonConfig.from_mapping({"loft": "north-tower"}, None)  # as the operator's command validates it
    await directory_store.add_participant(
        db,
        participant_id=platform.id,
        name="Fictitious platform reached by pigeon",
        kind="platform",
        country="IE",
        endpoint=None,
        accepts=["takedown-request"],
        adapter="pigeon",
        adapter_config={"loft": "north-tower"},
    )
    await register_keys(db, platform.id, platform.key, platform.enc)
    pool = await create_pool(str(settings.database_url))
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    intake = Intake(
        pool=pool, catalog=catalog, hub=HubIdentity(settings.hub_id, hub_key), keyring=keyring_of(settings)
    )
    envelope = takedown(hotline, platform)
    signed = hotline.sign(envelope)
    try:
        await submit_message(intake, signed.encode(), utc_now())
        async with aiohttp.ClientSession() as session:
            adapters = build_adapters(
                AdapterContext(session, HubIdentity(settings.hub_id, hub_key), utc_now), factories
            )
            assert "pigeon" in adapters
            worker = delivery_worker(
                pool,
                str(settings.database_url),
                adapters,
                intake,
                utc_now,
                WorkerConfig(poll_interval=0.05, lease=timedelta(seconds=60)),
                rng=random.Random(7),
            )
            assert await worker.run_once() == 1
            await asyncio.wait_for(worker.wait_idle(), GUARD)
            await worker.stop()
    finally:
        await pool.close()

    [(message, config)] = PigeonAdapter.carried
    assert (str(message.message_id), message.signed_form, config.loft) == (
        envelope["id"],
        signed,
        "north-tower",
    )
    row = await db.fetchrow(
        "SELECT adapter, channel, state FROM deliveries WHERE recipient_id = $1", platform.id
    )
    assert row is not None
    assert (row["adapter"], row["channel"], row["state"]) == ("pigeon", "push", "delivered")
