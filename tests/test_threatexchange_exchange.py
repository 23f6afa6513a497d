"""The hub as a python-threatexchange exchange (issue 19.3, `adapters/threatexchange`): the real
`threatexchange` package from PyPI (in the test extra) follows a running hub's feed. Signals are fetched
and land as the library's types; a withdrawal and a purge remove them; a new API object given the stored
checkpoint (after a restart) gets only the later changes; the library's own command line adds the hub by
configuration and fetches a photo's hashes, which are gone from its dataset once the referral is withdrawn."""

from __future__ import annotations

import asyncio
import os
import pickle
import random
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from PIL import Image
from threatexchange.exchanges.auth import SignalExchangeAPIInvalidAuthException
from threatexchange.exchanges.fetch_state import FetchDelta, SignalOpinionCategory
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal
from threatexchange.signal_type.signal_base import SignalType
from threatexchange.utils import dataclass_json

from adapters.threatexchange import (
    API_NAME,
    NCIIHubCheckpoint,
    NCIIHubCollabConfig,
    NCIIHubCredentials,
    NCIIHubFetchError,
    NCIIHubSignal,
    NCIIHubSignalExchangeAPI,
    fetch_delta_mapping,
)
from hub.api.app import create_app
from hub.api.keys import POOL
from hub.core.clock import utc_now
from hub.hashing import hash_file
from hub.keyfile import write_private_jwk
from hub.policies import load_retention_policy
from hub.store.purge import purge_due_cases
from tests.factories import Member, jose, removal, takedown, withdrawal

TYPES: list[type[SignalType]] = [PdqSignal, VideoMD5Signal, VideoSHA256Signal]
URL = "https://photos.example.com/p/tx-marker-0001"
# Fictitious hashes (not of any real image or file).
PDQ_A, PDQ_B = "a" * 63 + "1", "b" * 63 + "2"
MD5_A = "c" * 31 + "3"
SHA_A = "d" * 63 + "4"


def item(*hashes: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"url": URL, "hashes": [{"alg": a, "value": v} for a, v in hashes]}]


def collab(hub: Any, platform: Member, **kwargs: Any) -> NCIIHubCollabConfig:
    return NCIIHubCollabConfig(
        name="the-hub",
        hub_url=str(hub.make_url("")).rstrip("/"),
        participant_id=platform.id,
        **kwargs,
    )


def key_file(tmp_path: Path, member: Member) -> Path:
    path = tmp_path / f"{member.id}.jwk"
    write_private_jwk(path, member.key)
    return path


def api_for(config: NCIIHubCollabConfig, key: Path) -> NCIIHubSignalExchangeAPI:
    """As the CLI and HMA make it: `for_collab`, the credentials given (HMA) or found (the CLI)."""
    return NCIIHubSignalExchangeAPI.for_collab(config, NCIIHubCredentials(key_file=str(key)))


async def fetch(
    api: NCIIHubSignalExchangeAPI, checkpoint: NCIIHubCheckpoint | None
) -> list[FetchDelta[str, NCIIHubSignal, NCIIHubCheckpoint]]:
    """Every delta of one fetch, run as the library runs it: synchronously, off the hub's event loop."""
    return await asyncio.to_thread(lambda: list(api.fetch_iter(TYPES, checkpoint)))


def merged(state: dict[str, NCIIHubSignal], deltas: list[Any]) -> dict[str, NCIIHubSignal]:
    for delta in deltas:
        NCIIHubSignalExchangeAPI.naive_fetch_merge(state, delta.updates)
    return state


def as_signals(config: NCIIHubCollabConfig, state: dict[str, NCIIHubSignal]) -> dict[str, set[str]]:
    converted = NCIIHubSignalExchangeAPI.naive_convert_to_signal_type(TYPES, config, state)
    return {s_type.get_name(): set(values) for s_type, values in converted.items()}


async def post(client: Any, member: Member, envelope: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/messages", **jose(member.sign(envelope)))
    assert response.status == 202, await response.text()
    return dict(await response.json())


async def test_signals_are_fetched_a_withdrawal_removes_them_and_a_restart_resumes_from_the_checkpoint(
    aiohttp_client: Any, settings: Any, directory: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    hub = await aiohttp_client(create_app(settings, background=False))
    first = takedown(hotline, platform, content=item(("pdq", PDQ_A), ("md5", MD5_A), ("sha256", SHA_A)))
    case_id = (await post(hub, hotline, first))["case_id"]
    await post(hub, hotline, takedown(hotline, platform, content=item(("pdq", PDQ_B))))
    config = collab(hub, platform, page_size=2)
    key = key_file(tmp_path, platform)

    deltas = await fetch(api_for(config, key), None)
    # 4 signals, 2 a page: two deltas, each with its page's cursor; nothing further to fetch.
    assert [len(d.updates) for d in deltas] == [2, 2]
    assert all(isinstance(d.checkpoint, NCIIHubCheckpoint) for d in deltas)
    assert deltas[0].checkpoint != deltas[1].checkpoint
    state = merged({}, deltas)
    assert as_signals(config, state) == {"pdq": {PDQ_A, PDQ_B}, "video_md5": {MD5_A}, "video_sha256": {SHA_A}}
    converted = NCIIHubSignalExchangeAPI.naive_convert_to_signal_type(TYPES, config, state)
    metadata = converted[PdqSignal][PDQ_A]
    assert [(s.case_id, s.message_id, s.content_item, s.audience) for s in metadata.signals] == [
        (case_id, first["id"], 0, "recipient")
    ]
    opinion = metadata.get_as_aggregate_opinion()
    assert (opinion.category.name, opinion.tags) == ("INVESTIGATION_SEED", {"ncii", "recipient"})

    # The checkpoint is stored as the CLI stores it (pickled) and as HMA stores it (the library's JSON).
    stored = deltas[-1].checkpoint
    assert pickle.loads(pickle.dumps(stored)) == stored
    revived = dataclass_json.dataclass_loads(dataclass_json.dataclass_dumps(stored), NCIIHubCheckpoint)
    assert revived == stored

    # The first request is withdrawn; a new API object (a restart) resumes from the stored checkpoint
    # and gets only the withdrawal: the first request's three signals, each to be removed.
    await post(hub, hotline, withdrawal(hotline, [platform], case_id))
    later = await fetch(api_for(config, key), revived)
    updates = {k: v for d in later for k, v in d.updates.items()}
    assert set(updates) == {s.signal_id for s in state.values() if s.case_id == case_id}
    assert set(updates.values()) == {None}
    merged(state, later)
    assert as_signals(config, state) == {"pdq": {PDQ_B}}
    # And from the newest checkpoint, nothing at all (no delta, so no checkpoint rewritten).
    assert await fetch(api_for(config, key), later[-1].checkpoint) == []


async def test_a_purge_deletes_the_signal_from_the_exchange(
    aiohttp_client: Any, settings: Any, directory: Any, tmp_path: Path
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    app = create_app(settings, background=False)
    hub = await aiohttp_client(app)
    request = takedown(hotline, platform, content=item(("pdq", PDQ_A)))
    case_id = (await post(hub, hotline, request))["case_id"]
    await post(hub, platform, removal(platform, hotline, case_id, request["id"]))
    config, key = collab(hub, platform), key_file(tmp_path, platform)
    first = await fetch(api_for(config, key), None)
    state = merged({}, first)
    assert as_signals(config, state) == {"pdq": {PDQ_A}}

    # End of retention: the case is purged, its signal deleted and its hash forgotten by the hub.
    assert await purge_due_cases(app[POOL], load_retention_policy(), utc_now() + timedelta(days=400)) == [
        uuid.UUID(case_id)
    ]
    deleted = await fetch(api_for(config, key), first[-1].checkpoint)
    assert [d.updates for d in deleted] == [{next(iter(state)): None}]
    assert as_signals(config, merged(state, deleted)) == {}


def test_the_feed_records_map_onto_the_library_as_it_expects() -> None:
    """active -> the signal; withdrawn, deleted and statuses this version does not know -> None (removed);
    types the caller does not list, types the hub may add later and invalid values are skipped."""
    signal_id = str(uuid.uuid4())
    record = {
        "signal_id": signal_id,
        "signal_type": "pdq",
        "value": PDQ_A,
        "status": "active",
        "status_changed_at": "2026-05-19T10:00:00Z",
        "history": [{"status": "active", "at": "2026-05-19T10:00:00Z"}],
        "audience": "opted-in",
    }
    key, value = fetch_delta_mapping(record)
    assert key == signal_id
    assert value is not None
    assert (value.signal_type, value.value, value.audience, value.case_id) == ("pdq", PDQ_A, "opted-in", None)
    for status, hash_value in (("withdrawn", PDQ_A), ("deleted", None), ("quarantined", PDQ_A)):
        assert fetch_delta_mapping({**record, "status": status, "value": hash_value}) == (signal_id, None)
    with pytest.raises(NCIIHubFetchError, match="without the feed's keys"):
        fetch_delta_mapping({"signal_id": signal_id})

    config = NCIIHubCollabConfig(name="c", hub_url="https://hub.example.org", participant_id="p")
    signals = {
        "1": NCIIHubSignal("1", "pdq", PDQ_A, "t", "opted-in"),
        "2": NCIIHubSignal("2", "pdq", PDQ_A, "t", "recipient", case_id="c1"),  # the same hash, twice
        "3": NCIIHubSignal("3", "md5", MD5_A, "t", "recipient"),
        "4": NCIIHubSignal("4", "tmk", "f" * 64, "t", "recipient"),  # a type the hub may add later
        "5": NCIIHubSignal("5", "pdq", "not-a-pdq", "t", "recipient"),
    }
    converted = NCIIHubSignalExchangeAPI.naive_convert_to_signal_type([PdqSignal], config, signals)
    assert list(converted) == [PdqSignal]
    assert [s.signal_id for s in converted[PdqSignal][PDQ_A].signals] == ["1", "2"]
    assert converted[PdqSignal][PDQ_A].get_as_aggregate_opinion().category == (
        SignalOpinionCategory.INVESTIGATION_SEED
    )


async def test_bad_configuration_and_refusals_are_one_clear_error(
    aiohttp_client: Any, settings: Any, directory: Any, tmp_path: Path
) -> None:
    platform = await directory.add("ie-platform-test", "platform", "IE")
    stranger = await directory.add("nl-platform-test", "platform", "NL")
    hub = await aiohttp_client(create_app(settings, background=False))
    config = collab(hub, platform)
    with pytest.raises(ValueError, match="hub_url must be an http"):
        api_for(NCIIHubCollabConfig(name="c", hub_url="ftp://x", participant_id="p"), tmp_path / "k")
    with pytest.raises(SignalExchangeAPIInvalidAuthException) as missing:
        api_for(config, tmp_path / "missing.jwk")
    assert "no key file at" in missing.value.message
    (tmp_path / "garbage.jwk").write_text('{"kty": "OKP", "d": "secret-looking"}')
    with pytest.raises(SignalExchangeAPIInvalidAuthException) as garbage:
        api_for(config, tmp_path / "garbage.jwk")
    assert "secret-looking" not in garbage.value.message
    # A key the directory does not have for this participant: the hub refuses, in one line.
    wrong = api_for(config, key_file(tmp_path, stranger))
    with pytest.raises(NCIIHubFetchError, match="the hub refused the feed: 401") as refused:
        await fetch(wrong, None)
    assert "\n" not in str(refused.value)
    # A cursor this hub never gave (another hub's, or kept across a restore of this hub).
    right = api_for(config, key_file(tmp_path, platform))
    with pytest.raises(NCIIHubFetchError, match="409"):
        await fetch(right, NCIIHubCheckpoint("sig1.999999"))
    # Credentials from a string, as TX_NCII_HUB_KEY or HMA's --from-str give them.
    assert NCIIHubCredentials._from_str(" /keys/p.jwk\n") == NCIIHubCredentials(key_file="/keys/p.jwk")
    inline = NCIIHubCredentials._from_str((tmp_path / "ie-platform-test.jwk").read_text())
    assert inline.private_jwk
    assert not inline.key_file
    assert inline._are_valid()
    assert NCIIHubSignalExchangeAPI.for_collab(config, inline).collab is config
    assert not NCIIHubCredentials()._are_valid()


def test_the_extension_manifest_lists_the_exchange() -> None:
    manifest = ThreatExchangeExtensionManifest.load_from_module_name("adapters.threatexchange")
    assert manifest.apis == (NCIIHubSignalExchangeAPI,)
    assert NCIIHubSignalExchangeAPI.get_name() == API_NAME == "ncii_referral_hub"


async def threatexchange_cli(home: Path, key: Path, *args: str) -> str:
    """The library's own command line, in a process of its own (the hub keeps serving meanwhile)."""
    env = {**os.environ, "HOME": str(home), "TX_NCII_HUB_KEY": str(key)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "threatexchange",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


def noise_image(path: Path) -> Path:
    """A fictitious photo: seeded noise, PDQ-hashable (not of anyone)."""
    rng = random.Random(19)
    image = Image.new("RGB", (128, 128))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(128 * 128)])
    image.save(path)
    return path


async def test_the_threatexchange_command_line_adds_the_hub_by_configuration_and_follows_a_withdrawal(
    aiohttp_client: Any, settings: Any, directory: Any, tmp_path: Path, db: asyncpg.Connection
) -> None:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    hub = await aiohttp_client(create_app(settings, background=False))
    photo = noise_image(tmp_path / "photo.png")
    hashes = hash_file(photo)  # as the hotline's `hub hash` computes them
    assert hashes.pdq is not None
    request = takedown(hotline, platform, content=[{"url": URL, "hashes": hashes.locators()}])
    case_id = (await post(hub, hotline, request))["case_id"]
    # Another referral's file, not withdrawn. (It also keeps the CLI's video_md5 index rebuilt: the CLI of
    # threatexchange 1.2.17 never removes the index of a type left without signals, see its
    # CliIndexStore.clear, and would match on a withdrawn hash that was its type's last one.)
    await post(hub, hotline, takedown(hotline, platform, content=item(("md5", MD5_A))))
    home, key = tmp_path / "home", key_file(tmp_path, platform)
    home.mkdir()
    hub_url = str(hub.make_url("")).rstrip("/")

    added = await threatexchange_cli(home, key, "config", "extensions", "add", "adapters.threatexchange")
    assert "ncii_referral_hub" in added
    await threatexchange_cli(
        home, key, "config", "collab", "edit", "ncii_referral_hub", "the-hub", "--create",
        "--hub-url", hub_url, "--participant-id", platform.id,
    )  # fmt: skip
    await threatexchange_cli(home, key, "fetch")
    # The CLI's fetched dataset: the photo's PDQ, MD5 and SHA-256 under the library's types.
    listed = await threatexchange_cli(home, key, "dataset", "--print-signals")
    for value in (hashes.pdq.value, hashes.md5, hashes.sha256):
        assert value in listed, listed
    assert "'the-hub'" in listed
    # And matches on them: the file's MD5, looked up as the library's video_md5. (The CLI's PDQ index comes
    # back empty from its own store with faiss-cpu 1.15 here, whatever it holds: not the exchange's doing.)
    assert "(the-hub)" in await match_md5(home, key, hashes.md5)

    await post(hub, hotline, withdrawal(hotline, [platform], case_id))
    await threatexchange_cli(home, key, "fetch")
    after = await threatexchange_cli(home, key, "dataset", "--print-signals")
    assert hashes.md5 not in after
    assert hashes.pdq.value not in after
    assert "(the-hub)" not in await match_md5(home, key, hashes.md5)
    assert "(the-hub)" in await match_md5(home, key, MD5_A)


async def match_md5(home: Path, key: Path, md5: str) -> str:
    return await threatexchange_cli(home, key, "match", "-S", "video_md5", "--hashes", "video", "--", md5)


def test_the_hubs_matcher_type_names_are_the_librarys() -> None:
    """hub.core.signals.MATCHER_TYPE_NAMES, which the exchange and the HMA banking adapter share, names
    each hub signal type as the library's SignalType does (and so as HMA's banks do)."""
    from hub.core.signals import MATCHER_TYPE_NAMES

    assert {
        "pdq": PdqSignal.get_name(),
        "md5": VideoMD5Signal.get_name(),
        "sha256": VideoSHA256Signal.get_name(),
    } == MATCHER_TYPE_NAMES
