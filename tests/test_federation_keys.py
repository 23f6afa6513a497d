"""Issue 20, "a federated participant's keys come only from its home hub's feed (checked against that
hub's transparency log)": two hubs in this process, each its own database (tests/test_federation_two_hubs).

A participant of hub A is listed on hub B under its global id, its keys mirrored from A's feed, which
carries A's log proof of them; B keeps that proof with the entry (`home_proof`). A participant's tools
talking to B (`hub send`, `hub inbox`, the client library with a trust store) and B's evidence bundle
trust such a key only through A: A's key as B registers the peer (under B's log), then A's own log proof
of the participant's bindings (hub/core/home_chain.py). A key B's operator slips in without A's proof, or
a participant A does not vouch for, is refused with the reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from hub.api.keys import HUB_KEY, KEYRING, POOL
from hub.client import HubClient
from hub.client.trust_store import TrustStore
from hub.client.verify import VerificationError, verify_inbox_item
from hub.core.audit import CHECKPOINT_TYPE
from hub.core.binding import bind_key, bind_revocation, fingerprint
from hub.core.clock import utc_now
from hub.core.jose import PrivateSigningJwk, issue_token, parse_jws, sha256_hex, sign_compact
from hub.core.receipt import sign_receipt
from hub.core.vouching_feed import FeedError, sign_feed
from hub.evidence.export import export_bundle
from hub.evidence.verify import trust_from_keys, verify_bundle
from hub.keyfile import write_private_jwk
from hub.services import vouching
from hub.services.bindings import apply_binding
from hub.store import directory
from hub.store.audit import sequence_and_checkpoint
from tests.console_helpers import console_for, csrf_of
from tests.factories import Directory, Member, acknowledgement, jose, takedown
from tests.test_cli import assert_ok, assert_refused, hub, hub_env, write_json
from tests.test_cli_sealing import CONTACT
from tests.test_federation_forwarding import hub_b_url
from tests.test_federation_two_hubs import HUB_A, HUB_B, PROBLEM, Federation, Peer, hub_key, sync, two_hubs
from tests.test_malicious_operator import rewrite_first_entry

__all__ = ["hub_b_url"]

HOTLINE = f"de-hotline@{HUB_A}"
PLATFORM = f"ie-platform@{HUB_B}"


@pytest_asyncio.fixture
async def federation(
    hub_b_url: str,
    database_url: str,
    aiohttp_client: Any,
    tmp_path: Path,
) -> AsyncIterator[Federation]:
    """The two hubs, their clocks close enough to real time for the client library's own tokens
    (`HubClient` signs with the real time; a token lives 5 minutes)."""
    start = utc_now() + timedelta(minutes=2)
    async for f in two_hubs(aiohttp_client, database_url, hub_b_url, tmp_path, clock_start=start):
        yield f


async def checkpoint(peer: Peer) -> None:
    app = peer.app
    await sequence_and_checkpoint(app[POOL], app[HUB_KEY], peer.identity.hub_id, peer.clock())


def key_file(tmp_path: Path, member: Member) -> Path:
    path = tmp_path / f"{member.id}.jwk"
    write_private_jwk(path, member.key)
    return path


async def test_a_hotline_seals_to_a_platform_of_another_hub_and_that_hubs_bundle_verifies_offline(
    federation: Federation, tmp_path: Path
) -> None:
    """`hub send` on A, with a trust store, seals to the platform's encryption key that A mirrored from
    B (trusted through B's key and B's log proof); B's evidence bundle of the case verifies offline with
    B's key alone, the hotline's signing key proven through A."""
    f = federation
    request = {
        "type": "takedown-request",
        "version": "1.0",
        "to": [PLATFORM],
        "body": takedown(f.hotline, f.remote_platform)["body"] | {"contact": {"seal": CONTACT}},
    }
    identity = ("--key", str(key_file(tmp_path, f.hotline)), "--as", "de-hotline", "--hub", f.a.url)
    trust = ("--trust-store", str(tmp_path / "hotline-trust.json"))
    path = write_json(tmp_path / "request.json", request)
    sent = await hub("send", str(path), *identity, *trust, env=hub_env(tmp_path))
    assert_ok(sent)
    receipt = sent.json()
    await f.forward_all()

    token = f.platform.token(audience=HUB_B, now=f.b.clock.ts())
    inbox = await f.b.client.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    (item,) = (await inbox.json())["messages"]
    sealed = json.loads(parse_jws(item["message"].encode()).payload)["body"]["contact"]["sealed"]
    assert [(s["to"], s["kid"]) for s in sealed] == [(PLATFORM, f.platform.enc.kid)]

    await checkpoint(f.b)
    app = f.b.app
    async with app[POOL].acquire() as conn:
        bundle = await export_bundle(
            conn, uuid.UUID(receipt["case_id"]), hub_id=HUB_B, now=f.b.clock(), keyring=app[KEYRING]
        )
    report = verify_bundle(bundle, trust_from_keys([hub_key(f.b)], "hub B's key"))
    assert report.ok, report.faults
    assert report.checked["home-hub key proofs"] == 1
    assert report.checked["message signatures"] == 1


async def test_a_platform_answers_across_hubs_and_each_side_verifies_with_its_trust_store(
    federation: Federation, tmp_path: Path
) -> None:
    """The platform on B reads the hotline's referral with the client library and a trust store (the
    hotline's key trusted through A), answers; the hotline on A reads the answer with `hub inbox`."""
    f = federation
    sent = await f.send()
    await f.forward_all()
    async with aiohttp.ClientSession() as session:
        client = HubClient(
            session, f.b.url, "ie-platform", f.platform.key, trust=TrustStore(tmp_path / "platform.json")
        )
        (item,) = (await client.inbox())["messages"]
        sender = await client.participant(item["from"])
        assert sender["jwks"]["refused"] == {}
        assert [k["kid"] for k in sender["jwks"]["keys"]] == [f.hotline.key.kid, f.hotline.enc.kid]
        verified = verify_inbox_item(item, sender["jwks"], await client.hub_jwks(), recipient="ie-platform")
        assert verified.envelope["from"] == "de-hotline"
        remote_hotline = Member(HOTLINE, "hotline", "DE", f.hotline.key, f.hotline.enc)
        await client.send(acknowledgement(f.platform, remote_hotline, sent["case_id"], sent["message_id"]))
    await f.forward_all(f.b)

    identity = ("--key", str(key_file(tmp_path, f.hotline)), "--as", "de-hotline", "--hub", f.a.url)
    trust = ("--trust-store", str(tmp_path / "hotline-trust.json"))
    run = await hub("inbox", "--json", *identity, *trust, env=hub_env(tmp_path))
    assert_ok(run)
    (answer,) = run.json()["messages"]
    assert (answer["from"], answer["verified"]) == (PLATFORM, True), answer.get("verification_error")
    assert answer["envelope"]["type"] == "acknowledgement"


async def forged_item(f: Federation, forger: PrivateSigningJwk) -> dict[str, Any]:
    """What B's operator, holding B's database and key, puts in the platform's inbox as the hotline's:
    a takedown signed by its own key, with B's genuine receipt."""
    envelope = takedown(f.hotline, f.remote_platform)
    signed = Member("de-hotline", "hotline", "DE", forger, f.hotline.enc).sign(envelope)
    payload = parse_jws(signed.encode()).payload
    case_id = uuid.uuid4()
    receipt = sign_receipt(
        f.b.identity.key,
        hub_id=HUB_B,
        message_id=uuid.UUID(envelope["id"]),
        message_type="takedown-request",
        sender=HOTLINE,
        recipients=["ie-platform"],
        case_id=case_id,
        payload_sha256=sha256_hex(payload),
        accepted_at=f.b.clock(),
    )
    return {
        "message": signed,
        "receipt": receipt,
        "from": HOTLINE,
        "message_id": envelope["id"],
        "type": "takedown-request",
        "case_id": str(case_id),
    }


async def test_a_key_hub_bs_operator_mirrors_without_the_home_hubs_proof_is_refused(
    federation: Federation, tmp_path: Path
) -> None:
    """B's operator adds a signing key to the hotline's mirrored entry the way a feed would (origin
    `feed`, written into B's log and checkpointed, so B's own log backs it): A's log never recorded it,
    so the platform's client refuses it and the message it signed, while the hotline's own key stays
    trusted. A participant A does not vouch for, dressed up with the hotline's genuine proof, is refused."""
    f = federation
    forger = PrivateSigningJwk.generate("de-hotline-sig-operator")
    await directory.add_mirrored_key(f.b.db, HOTLINE, {"jwk": forger.public().to_dict()}, HUB_A, f.b.clock())
    ghost = f"ghost@{HUB_A}"
    entry = {"name": "Fictitious ghost", "kind": "hotline", "country": "DE", "accepts": []}
    assert await directory.upsert_federated(f.b.db, ghost, entry, HUB_A) == ghost
    ghost_key = PrivateSigningJwk.generate("ghost-sig")
    await directory.add_mirrored_key(f.b.db, ghost, {"jwk": ghost_key.public().to_dict()}, HUB_A, f.b.clock())
    genuine = await f.b.db.fetchval("SELECT home_proof::text FROM participants WHERE id = $1", HOTLINE)
    await directory.set_home_proof(f.b.db, ghost, json.loads(genuine))
    await checkpoint(f.b)

    async with aiohttp.ClientSession() as session:
        client = HubClient(
            session, f.b.url, "ie-platform", f.platform.key, trust=TrustStore(tmp_path / "platform.json")
        )
        sender = await client.participant(HOTLINE)
        assert "log records no such key" in sender["jwks"]["refused"][forger.kid]
        assert HUB_A in sender["jwks"]["refused"][forger.kid]
        assert [k["kid"] for k in sender["jwks"]["keys"]] == [f.hotline.key.kid, f.hotline.enc.kid]
        with pytest.raises(VerificationError, match="not the sender's own"):
            verify_inbox_item(await forged_item(f, forger), sender["jwks"], await client.hub_jwks())
        impostor = await client.participant(ghost)
        assert impostor["jwks"]["keys"] == []
        assert "another participant" in impostor["jwks"]["refused"][ghost_key.kid]


async def test_a_home_proof_resigned_by_a_key_hub_bs_operator_gave_the_peer_is_refused(
    federation: Federation, tmp_path: Path
) -> None:
    """B's operator lists its own key as a second registration of hub A in B's directory and re-signs
    A's checkpoint in the hotline's proof with it: the peer's chain on B refuses that key (a second
    root), so the proof, and every key it was to back, is refused. The genuine proof still works after
    a second sync."""
    f = federation
    await sync(f.b, f.a)
    async with aiohttp.ClientSession() as session:
        client = HubClient(session, f.b.url, "ie-platform", f.platform.key)
        assert (await client.participant(HOTLINE))["jwks"]["refused"] == {}
        forger = PrivateSigningJwk.generate("hub-a-key-operator")
        await f.b.db.execute(
            "INSERT INTO participant_keys (kid, participant_id, use, jwk, origin)"
            " VALUES ($1, $2, 'sig', $3, $4)",
            forger.kid,
            HUB_A,
            forger.public().to_dict(),
            "registration",
        )
        genuine = json.loads(
            await f.b.db.fetchval("SELECT home_proof::text FROM participants WHERE id = $1", HOTLINE)
        )
        payload = parse_jws(genuine["checkpoint"].encode()).payload
        resigned = sign_compact(payload, forger, {"typ": CHECKPOINT_TYPE})
        await directory.set_home_proof(f.b.db, HOTLINE, genuine | {"checkpoint": resigned})

        refused = (await client.participant(HOTLINE))["jwks"]

    assert refused["keys"] == []
    reason = refused["refused"][f.hotline.key.kid]
    assert "does not verify" in reason
    assert forger.kid in reason


async def test_the_platforms_console_bundle_of_a_forwarded_case_verifies_offline(
    federation: Federation, aiohttp_client: Any, tmp_path: Path
) -> None:
    """The platform on B downloads the case's evidence bundle from its console: the hotline's key in it
    is proven through A (its home proof and A's registration on B), and it verifies with B's key."""
    f = federation
    sent = await f.send()
    await f.forward_all()
    await checkpoint(f.b)
    console = await console_for(aiohttp_client, f.b.client, f.platform, tmp_path / "console")
    csrf = csrf_of(await (await console.get("/inbox")).text())
    fetched = await console.post("/inbox/fetch", data={"csrf": csrf, "next": "/inbox"})
    assert "Fetched 1 new message." in await fetched.text()  # verified, so kept (an unverified one is not)

    download = await console.get(f"/cases/{sent['case_id']}/evidence.zip")

    assert download.status == 200, await download.text()
    report = verify_bundle(await download.read(), trust_from_keys([hub_key(f.b)], "hub B's key"))
    assert report.ok, report.faults
    assert report.checked["home-hub key proofs"] == 1


async def test_a_participant_that_rotated_its_signing_key_on_its_home_hub_is_trusted_on_the_other(
    federation: Federation, tmp_path: Path
) -> None:
    """A hotline registered on A binds a new signing key with its first one, then revokes the first:
    A's feed lists only the new keys, but the chain is rebuilt from A's log, where the revoked root
    still anchors the new key. The platform on B trusts it and verifies a message it signed."""
    f = federation
    first = await Directory(f.a.db, HUB_A).add("at-hotline", "hotline", "AT")
    second = PrivateSigningJwk.generate("at-hotline-sig-2")
    now = utc_now()
    added = bind_key(
        first.key,
        participant_id="at-hotline",
        hub_id=HUB_A,
        key=second.public(),
        issued_at=int(now.timestamp()),
        new_signing_key=second,
    )
    await apply_binding(f.a.db, hub_id=HUB_A, text=added, now=now)
    later = utc_now() + timedelta(seconds=1)  # once the new key is valid
    revoked = bind_revocation(
        second,
        participant_id="at-hotline",
        hub_id=HUB_A,
        kid=first.key.kid,
        reason="rotated",
        issued_at=int(later.timestamp()),
    )
    await apply_binding(f.a.db, hub_id=HUB_A, text=revoked, now=later)
    await sync(f.b, f.a)
    rotated = Member("at-hotline", "hotline", "AT", second, first.enc)
    response = await f.a.client.post(
        "/v1/messages", **jose(rotated.sign(takedown(rotated, f.remote_platform)))
    )
    assert response.status == 202, await response.json()
    await f.forward_all()

    async with aiohttp.ClientSession() as session:
        client = HubClient(
            session, f.b.url, "ie-platform", f.platform.key, trust=TrustStore(tmp_path / "platform.json")
        )
        sender = await client.participant(f"at-hotline@{HUB_A}")
        assert sender["jwks"]["refused"] == {}
        assert {k["kid"] for k in sender["jwks"]["keys"]} == {second.kid, first.enc.kid}
        (item,) = (await client.inbox())["messages"]
        verified = verify_inbox_item(item, sender["jwks"], await client.hub_jwks(), recipient="ie-platform")
        assert verified.envelope["from"] == "at-hotline"


async def test_a_peer_whose_feed_lists_a_key_its_own_log_does_not_record_is_refused(
    federation: Federation,
) -> None:
    """Hub A shows B a key for its hotline that A's own log (which the hotline monitors) never recorded:
    a split view. B refuses the whole feed, and mirrors nothing of it."""
    f = federation
    await checkpoint(f.a)
    genuine = await (await f.a.client.get("/v1/federation/participants")).text()
    claims = json.loads(parse_jws(genuine.encode()).payload)
    (entry,) = claims["participants"]
    shown = PrivateSigningJwk.generate("de-hotline-sig-shown-to-b")
    entry["keys"].append({"jwk": shown.public().to_dict(), "origin": "binding", "epoch": 0, "binding": None})
    forked = sign_feed(f.a.identity.key, hub_id=HUB_A, issued_at=claims["iat"], participants=[entry])
    feed = await vouching.peer_feed(f.b.db, HUB_A, forked)  # A's signature is genuine

    with pytest.raises(FeedError, match="its own log does not record"):
        await vouching.mirror_feed(f.b.db, feed, f.b.clock())

    assert await directory.get_key(f.b.db, shown.kid) is None


async def test_a_reset_on_the_home_hub_is_an_alarm_for_a_client_of_the_other_hub(
    federation: Federation, tmp_path: Path
) -> None:
    """The platform's client on B pinned the hotline's identity through A. A's operator resets the
    hotline (a new root key, epoch 1); B mirrors it under that epoch, and the client refuses every key of
    the new identity, naming its fingerprint, until a person accepts it."""
    f = federation
    async with aiohttp.ClientSession() as session:
        client = HubClient(
            session, f.b.url, "ie-platform", f.platform.key, trust=TrustStore(tmp_path / "platform.json")
        )
        assert (await client.participant(HOTLINE))["jwks"]["epoch"] == 0  # pinned on first use
        new_root = PrivateSigningJwk.generate("de-hotline-sig-after-reset")
        await directory.reset_participant(
            f.a.db, participant_id="de-hotline", jwk=new_root.public().to_dict(), reason="lost", at=utc_now()
        )
        await sync(f.b, f.a)

        after = (await client.participant(HOTLINE))["jwks"]

    listed = await (await f.b.client.get(f"/v1/participants/{HOTLINE}")).json()
    (mirrored,) = [k for k in listed["jwks"]["keys"] if k["kid"] == new_root.kid]
    assert (mirrored["origin"], mirrored["epoch"], mirrored["status"]) == ("feed", 1, "active")
    assert after["keys"] == []
    assert "reset" in after["alarm"]
    assert fingerprint(new_root.public()) in after["alarm"]

    # a person compared the new fingerprint with the hotline: `hub keys trust` pins the new identity
    store = tmp_path / "platform.json"
    trusted = await hub(
        "keys", "trust", HOTLINE, "--fingerprint", fingerprint(new_root.public()),
        "--hub", f.b.url, "--trust-store", str(store), env=hub_env(tmp_path),
    )  # fmt: skip
    assert_ok(trusted)
    assert trusted.json()["replaced_epoch"] == 0
    async with aiohttp.ClientSession() as session:
        client = HubClient(session, f.b.url, "ie-platform", f.platform.key, trust=TrustStore(store))
        accepted = (await client.participant(HOTLINE))["jwks"]
    assert [k["kid"] for k in accepted["keys"] if k["status"] == "active"] == [new_root.kid]
    assert "alarm" not in accepted
    # B's operator brings the hotline's first key back to life on B: A's log records the reset that
    # revoked it, so it is refused
    await f.b.db.execute("UPDATE participant_keys SET revoked_at = NULL WHERE kid = $1", f.hotline.key.kid)
    async with aiohttp.ClientSession() as session:
        client = HubClient(session, f.b.url, "ie-platform", f.platform.key)
        revived = (await client.participant(HOTLINE))["jwks"]
    assert "records its revocation" in revived["refused"][f.hotline.key.kid]


async def test_a_key_a_reset_revoked_shown_active_again_on_its_own_hub_is_refused(
    federation: Federation, tmp_path: Path
) -> None:
    """The same rule on the home hub itself: A's operator resets the hotline, then shows its first key
    as active again; a client of A with a trust store finds the reset's revocation in A's log."""
    f = federation
    new_root = PrivateSigningJwk.generate("de-hotline-sig-reset-on-a")
    await directory.reset_participant(
        f.a.db, participant_id="de-hotline", jwk=new_root.public().to_dict(), reason="lost", at=utc_now()
    )
    await f.a.db.execute("UPDATE participant_keys SET revoked_at = NULL WHERE kid = $1", f.hotline.key.kid)
    await checkpoint(f.a)
    async with aiohttp.ClientSession() as session:
        client = HubClient(
            session, f.a.url, PLATFORM, f.platform.key, hub_id=HUB_A, trust=TrustStore(tmp_path / "t.json")
        )
        jwks = (await client.participant("de-hotline"))["jwks"]
    assert jwks["keys"] == []
    assert "records its revocation" in jwks["alarm"]


async def test_a_peer_that_comes_back_with_a_rewritten_history_is_refused(
    federation: Federation, hub_b_url: str, tmp_path: Path
) -> None:
    """`hub peers sync` on B keeps the largest checkpoint of A's log it has seen, and takes a later feed
    only if A's consistency proof joins the two heads: an honest A that grew is taken; an A whose log
    was rewritten (an old entry changed, every later head re-signed) is refused and nothing changes."""
    f = federation
    env = hub_env(tmp_path, hub_b_url)
    assert_ok(await hub("peers", "sync", HUB_A, env=env))
    kept = await f.b.db.fetchval("SELECT peer_checkpoint FROM participants WHERE id = $1", HUB_A)
    assert kept is not None
    await Directory(f.a.db, HUB_A).add("at-hotline", "hotline", "AT")
    await checkpoint(f.a)
    grown = await hub("peers", "sync", HUB_A, env=env)
    assert_ok(grown)
    assert f"at-hotline@{HUB_A}" in grown.json()["participants"]
    kept = await f.b.db.fetchval("SELECT peer_checkpoint FROM participants WHERE id = $1", HUB_A)

    await rewrite_first_entry(f.a.db, f.a.identity.key, HUB_A)
    await Directory(f.a.db, HUB_A).add("nl-hotline", "hotline", "NL")
    refused = await hub("peers", "sync", HUB_A, env=env)

    assert_refused(refused, "does not extend", "rewritten", "--accept-rewritten-log")
    assert await directory.get_participant(f.b.db, f"nl-hotline@{HUB_A}") is None
    assert await f.b.db.fetchval("SELECT peer_checkpoint FROM participants WHERE id = $1", HUB_A) == kept
    # nor does B take A's forwardings any more (its worker is refused with a 403, and parks)
    assert await forwarding_status(f) == (403, PROBLEM + "not-a-peer")

    # A's operator explained the rewrite to B's, out of band: B takes A's log as it is now
    assert_ok(await hub("peers", "sync", HUB_A, "--accept-rewritten-log", env=env))
    assert await directory.get_participant(f.b.db, f"nl-hotline@{HUB_A}") is not None
    assert await forwarding_status(f) == (422, PROBLEM + "invalid-hop-receipt")  # past check 1 again


async def forwarding_status(f: Federation) -> tuple[int, str]:
    """What B answers A's forwarding of a message A never received (checks 1, then 2 to 5)."""
    signed = f.hotline.sign(takedown(f.hotline, f.remote_platform))
    token = issue_token(f.a.identity.key, issuer=HUB_A, audience=HUB_B, now=f.b.clock.ts())
    response = await f.b.client.post(
        "/v1/federation/messages",
        json={"message": signed, "receipt": "not-a-receipt"},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status, (await response.json())["type"]


async def test_a_replayed_older_feed_of_the_peer_is_refused(
    federation: Federation, hub_b_url: str, aiohttp_server: Any, tmp_path: Path
) -> None:
    """A feed A really signed, but older than the last one B took (its log's head is smaller), served
    again at A's address, would drop what A has vouched for since: `hub peers sync` refuses it."""
    f = federation
    env = hub_env(tmp_path, hub_b_url)
    assert_ok(await hub("peers", "sync", HUB_A, env=env))
    stale = await (await f.a.client.get("/v1/federation/participants")).text()
    await Directory(f.a.db, HUB_A).add("at-hotline", "hotline", "AT")
    await checkpoint(f.a)
    assert_ok(await hub("peers", "sync", HUB_A, env=env))

    async def serve_stale(_: web.Request) -> web.Response:
        return web.Response(text=stale, content_type="application/jose")

    replay = web.Application()
    replay.router.add_get("/v1/federation/participants", serve_stale)
    server = await aiohttp_server(replay)
    await f.b.db.execute(
        "UPDATE participants SET endpoint = $2 WHERE id = $1", HUB_A, str(server.make_url("")).rstrip("/")
    )

    refused = await hub("peers", "sync", HUB_A, env=env)

    assert_refused(refused, "older than the last one taken")
    row = await f.b.db.fetchrow(
        "SELECT revoked_at FROM participant_keys WHERE participant_id = $1 AND use = 'sig'",
        f"at-hotline@{HUB_A}",
    )
    assert row["revoked_at"] is None  # still vouched for
