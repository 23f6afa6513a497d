"""Issue 18: an operator (or anyone) with full database access against the directory.

Each attack writes straight into the database, as such an operator would, and then a participant's
ordinary tools (`hub send`, `hub inbox`, the client library) run against the real hub over HTTP: they
refuse to seal to a key its participant did not bind and refuse messages signed by a key the sender
did not bind, saying why, while the honest directory keeps working.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from hub.api.app import create_app
from hub.client import HubClient, HubError, sign_message
from hub.client.sealing import UnboundKeyError
from hub.client.trust_store import TrustStore
from hub.client.verify import VerificationError, verify_inbox_item
from hub.core.audit import sign_checkpoint
from hub.core.binding import bind_key, fingerprint
from hub.core.cosignature import cosign
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, parse_jws, sign_compact
from hub.core.log_watch import Seen
from hub.core.merkle import leaf_hash, root, subtrees_of
from hub.evidence.files import pack, unpack
from hub.evidence.verify import verify_bundle
from hub.keyfile import load_or_create_signing_key, read_signing_key, write_private_jwk
from hub.services.bindings import apply_binding
from hub.settings import Settings
from hub.store.audit import sequence_and_checkpoint
from hub.store.database import create_pool
from hub.store.directory import reset_participant
from tests.factories import takedown
from tests.test_cli import Hub, assert_ok, assert_refused, hub, hub_env, running_hub, write_json
from tests.test_cli_sealing import enc_key_file, messages_count, plaintext_request
from tests.test_evidence import impostor_of, own_key, story

__all__ = ["running_hub"]


async def insert_key(
    db: asyncpg.Connection, participant_id: str, jwk: dict[str, Any], **columns: Any
) -> None:
    """The operator's INSERT, bypassing every check of the hub."""
    origin, binding = columns.get("origin", "legacy"), columns.get("binding")
    await db.execute(
        "INSERT INTO participant_keys (kid, participant_id, use, jwk, origin, binding)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        jwk["kid"],
        participant_id,
        jwk["use"],
        jwk,
        origin,
        binding,
    )


async def test_an_encryption_key_the_operator_added_is_never_sealed_to(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-mal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-mal", "platform", "IE")
    path = write_json(running_hub.tmp_path / "request.json", plaintext_request(platform))
    assert_ok(await running_hub.run(hotline, "send", str(path)))  # the honest directory works
    sent_before = await messages_count(db)

    operator_key = PrivateEncryptionJwk.generate("ie-platform-mal-enc-operator")
    await insert_key(db, platform.id, operator_key.public().to_dict())
    again = write_json(running_hub.tmp_path / "again.json", plaintext_request(platform))
    refused = await running_hub.run(hotline, "send", str(again))

    assert_refused(refused, "ie-platform-mal-enc-operator", "did not bind", "nothing was sent")
    assert await messages_count(db) == sent_before

    # Dressed up as bound, with a binding signed by the operator's own key: still refused.
    forged_by = PrivateSigningJwk.generate("operator-sig")
    forged = bind_key(
        forged_by,
        participant_id=platform.id,
        hub_id="test-hub",
        key=operator_key.public(),
        issued_at=int(time.time()),
    )
    await db.execute(
        "UPDATE participant_keys SET origin = 'binding', binding = $2 WHERE kid = $1",
        operator_key.kid,
        forged,
    )
    async with aiohttp.ClientSession() as session:
        client = HubClient(session, running_hub.url, hotline.id, hotline.member.key)
        entry = await client.participant(platform.id)
        assert "not a trusted key" in entry["jwks"]["refused"][operator_key.kid]
        with pytest.raises(UnboundKeyError, match=operator_key.kid):
            await client.seal(plaintext_request(platform) | {"from": hotline.id, "id": str(uuid.uuid4())})


async def test_a_signing_key_the_operator_swapped_in_does_not_make_its_messages_the_hotlines(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-mal", "hotline", "DE")
    platform = await running_hub.party("ie-platform-mal", "platform", "IE")
    impostor = PrivateSigningJwk.generate("de-hotline-mal-sig-operator")
    # A second "registration" for the hotline: the operator's own key as if it were the hotline's root.
    await insert_key(db, hotline.id, impostor.public().to_dict(), origin="registration")
    envelope = takedown(hotline.member, platform.member)
    async with aiohttp.ClientSession() as session:
        client = HubClient(session, running_hub.url, hotline.id, impostor)
        await client.submit(sign_message(envelope, impostor))  # the hub, reading its database, takes it

    page = await running_hub.run(
        platform, "inbox", "--json", "--enc-key", str(enc_key_file(running_hub, platform))
    )

    assert_ok(page)
    [item] = page.json()["messages"]
    assert item["verified"] is False
    assert "not the sender's own" in item["verification_error"]
    assert "second root" in item["verification_error"]
    # and a message signed with the hotline's real key still verifies beside it
    async with aiohttp.ClientSession() as session:
        honest = HubClient(session, running_hub.url, hotline.id, hotline.member.key)
        await honest.send(takedown(hotline.member, platform.member))
        reader = HubClient(session, running_hub.url, platform.id, platform.member.key)
        items = (await reader.inbox())["messages"]
        sender = await reader.participant(hotline.id)
        verdicts = []
        for message in items:
            try:
                verify_inbox_item(message, sender["jwks"], await reader.hub_jwks(), recipient=platform.id)
                verdicts.append(True)
            except VerificationError:
                verdicts.append(False)
        assert sorted(verdicts) == [False, True]


async def test_a_binding_the_participant_signed_is_trusted_and_survives_the_round_trip(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    """The other side of the attacks: a key its participant bound through the API is used."""
    platform = await running_hub.party("ie-platform-mal", "platform", "IE")
    hotline = await running_hub.party("de-hotline-mal", "hotline", "DE")
    newer = PrivateEncryptionJwk.generate("ie-platform-mal-enc-2")
    async with aiohttp.ClientSession() as session:
        client = HubClient(session, running_hub.url, platform.id, platform.member.key)
        text = bind_key(
            platform.member.key,
            participant_id=platform.id,
            hub_id=await client.hub_id(),
            key=newer.public(),
            issued_at=int(time.time()),
        )
        assert (await client.publish_binding(text))["subject"] == newer.kid
        reader = HubClient(session, running_hub.url, hotline.id, hotline.member.key)
        entry = await reader.participant(platform.id)
    assert newer.kid in {k["kid"] for k in entry["jwks"]["keys"]}
    assert entry["jwks"]["refused"] == {}
    logged = await db.fetchval(
        "SELECT detail FROM audit_entries WHERE event = 'key.added' AND detail->>'kid' = $1", newer.kid
    )
    assert logged["binding"] == text


async def test_keys_monitor_exits_non_zero_on_a_key_the_participant_did_not_bind(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    platform = await running_hub.party("ie-platform-mal", "platform", "IE")
    state = running_hub.tmp_path / "monitor.json"

    first = await running_hub.run(platform, "keys", "monitor", "--state", str(state))
    assert_ok(first)
    assert first.json()["ok"] is True
    assert_ok(await running_hub.run(platform, "keys", "monitor", "--state", str(state)))  # nothing changed

    await insert_key(
        db, platform.id, PrivateEncryptionJwk.generate("ie-platform-mal-enc-op").public().to_dict()
    )
    alarmed = await running_hub.run(platform, "keys", "monitor", "--state", str(state))

    assert alarmed.code == 1, alarmed
    [problem] = alarmed.json()["problems"]
    assert "ie-platform-mal-enc-op" in problem
    assert "did not bind" in problem

    await db.execute("DELETE FROM participant_keys WHERE kid = 'ie-platform-mal-enc-op'")
    await db.execute("UPDATE participants SET epoch = epoch + 1 WHERE id = $1", platform.id)
    await db.execute("UPDATE participant_keys SET epoch = epoch + 1 WHERE participant_id = $1", platform.id)
    reset = await running_hub.run(platform, "keys", "monitor", "--state", str(state))
    assert reset.code == 1, reset
    assert any("reset" in p for p in reset.json()["problems"])


async def test_check_log_sees_a_history_the_operator_rewrote_and_re_signed(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    """The operator holds the hub's key and the database: it changes an old entry, rebuilds the tree and
    signs a new head. A participant that kept the earlier checkpoint is shown the break."""
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    pool = await create_pool(str(settings.database_url))
    try:
        await running_hub.party("ie-platform-mal", "platform", "IE")
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        state = running_hub.tmp_path / "log.json"
        watch = ("keys", "check-log", "--hub", running_hub.url, "--state", str(state))
        assert_ok(first := await hub(*watch, env=hub_env(running_hub.tmp_path)))
        assert first.json()["ok"] is True
        await running_hub.party("de-hotline-mal", "hotline", "DE")
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        assert_ok(await hub(*watch, env=hub_env(running_hub.tmp_path)))  # an honest extension

        await rewrite_first_entry(db, hub_key, settings.hub_id)
        alarmed = await hub(*watch, env=hub_env(running_hub.tmp_path))
    finally:
        await pool.close()

    assert alarmed.code == 1, alarmed
    assert "rewritten" in alarmed.json()["alarm"]


async def rewrite_first_entry(db: asyncpg.Connection, hub_key: PrivateSigningJwk, hub_id: str) -> None:
    """Change entry 0, recompute every leaf and stored subtree, and sign a new, larger checkpoint."""
    rows = await db.fetch(
        "SELECT id, leaf_index, leaf_hash FROM audit_entries WHERE leaf_index IS NOT NULL ORDER BY 2"
    )
    leaves = [bytes(r["leaf_hash"]) for r in rows]
    leaves[0] = leaf_hash(b"what the operator would rather the log said")
    leaves.append(leaf_hash(b"one more entry"))
    await db.execute("UPDATE audit_entries SET leaf_hash = $2 WHERE id = $1", rows[0]["id"], leaves[0])
    await db.execute(
        "INSERT INTO audit_entries (recorded_at, event, actor, leaf_index, leaf_hash)"
        " VALUES (now(), 'x', 'x', $1, $2)",
        len(leaves) - 1,
        leaves[-1],
    )
    await db.execute("DELETE FROM audit_tree_nodes")
    nodes = subtrees_of(leaves)
    await db.executemany(
        "INSERT INTO audit_tree_nodes (level, idx, hash) VALUES ($1, $2, $3)",
        [(n.level, n.index, h) for n, h in nodes],
    )
    head = root(leaves)
    signed = sign_checkpoint(
        hub_key, hub_id=hub_id, tree_size=len(leaves), root=head, signed_at=datetime.now(UTC), previous=None
    )
    await db.execute(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, checkpoint, frontier)"
        " VALUES ($1, $2, now(), $3, $4)",
        len(leaves),
        head,
        signed,
        "[]",
    )


async def test_check_log_holds_a_participant_s_listed_keys_against_the_log(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    """Directory answers come with proof (GET /v1/participants/{id}/log): every key the directory lists
    is in the log everyone watches. A key the operator inserted past the hub's code (so in no audit
    entry), and a revoked key shown as active again, make `check-log --participant` exit 1."""
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    pool = await create_pool(str(settings.database_url))
    try:
        platform = await running_hub.party("ie-platform-mal", "platform", "IE")
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        state = running_hub.tmp_path / "log.json"
        watch = ("keys", "check-log", "--hub", running_hub.url, "--state", str(state))
        honest = await hub(*watch, "--participant", platform.id, env=hub_env(running_hub.tmp_path))
        assert_ok(honest)
        assert honest.json()["ok"] is True

        log_url = f"{running_hub.url}/v1/participants/{platform.id}/log"
        async with aiohttp.ClientSession() as session, session.get(log_url) as response:
            answer = await response.json()
        assert [e["event"] for e in answer["entries"]][:2] == ["participant.added", "key.added"]
        assert all(e["inclusion_proof"] is not None for e in answer["entries"])

        operator_key = PrivateSigningJwk.generate("ie-platform-mal-operator-sig")
        await insert_key(db, platform.id, operator_key.public().to_dict())
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        inserted = await hub(*watch, "--participant", platform.id, env=hub_env(running_hub.tmp_path))
        assert inserted.code == 1, inserted
        assert "ie-platform-mal-operator-sig" in inserted.json()["alarm"]
        assert "no entry of the hub's audit log" in inserted.json()["alarm"]
        await db.execute("DELETE FROM participant_keys WHERE kid = $1", operator_key.kid)

        # The log records a revocation; the operator clears it in the table.
        kid = platform.member.key.kid
        await db.execute("UPDATE participant_keys SET revoked_at = now() WHERE kid = $1", kid)
        await db.execute(
            "INSERT INTO audit_entries (recorded_at, event, actor, subject, detail)"
            " VALUES (now(), 'key.revoked', 'operator', $1, $2)",
            platform.id,
            {"kid": kid, "reason": "superseded", "binding": None},
        )
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        await db.execute("UPDATE participant_keys SET revoked_at = NULL WHERE kid = $1", kid)
        unrevoked = await hub(*watch, "--participant", platform.id, env=hub_env(running_hub.tmp_path))
    finally:
        await pool.close()
    assert unrevoked.code == 1, unrevoked
    assert "records its revocation" in unrevoked.json()["alarm"]


async def test_a_key_newer_than_the_latest_checkpoint_asks_to_retry_rather_than_alarm(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    pool = await create_pool(str(settings.database_url))
    try:
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        await running_hub.party("ie-platform-new", "platform", "IE")  # not yet under a checkpoint
        state = running_hub.tmp_path / "log.json"
        later = await hub(
            "keys", "check-log", "--hub", running_hub.url, "--state", str(state),
            "--participant", "ie-platform-new", env=hub_env(running_hub.tmp_path),
        )  # fmt: skip
    finally:
        await pool.close()
    assert later.code == 75, later
    assert "ask again" in later.json()["retry"]


async def test_a_witness_cosigns_what_it_checked_and_a_forged_cosignature_is_an_alarm(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    """A witness runs check-log --cosign-as; a client that requires the witness accepts the head only with
    its cosignature (75 while there is none), and a cosignature the operator made is an alarm."""
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    pool = await create_pool(str(settings.database_url))
    env = hub_env(running_hub.tmp_path)
    try:
        witness = await running_hub.party("ie-regulator-witness", "regulator", "IE")
        await running_hub.party("ie-platform-w", "platform", "IE")
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        watch = ("keys", "check-log", "--hub", running_hub.url)
        client = (*watch, "--state", str(running_hub.tmp_path / "client.json"), "--witness", witness.id)
        assert (await hub(*client, env=env)).code == 75  # not cosigned yet

        cosigned = await hub(
            *watch, "--state", str(running_hub.tmp_path / "witness.json"),
            "--cosign-as", witness.id, "--key", str(witness.key_file), env=env,
        )  # fmt: skip
        assert_ok(cosigned)
        accepted = await hub(*client, env=env)
        assert_ok(accepted)
        assert accepted.json()["ok"] is True

        # The operator signs a cosignature in the witness's name with a key of its own.
        size = await db.fetchval("SELECT max(tree_size) FROM audit_checkpoints")
        root_hash = bytes(
            await db.fetchval("SELECT root_hash FROM audit_checkpoints WHERE tree_size = $1", size)
        )
        forged = cosign(
            PrivateSigningJwk.generate(witness.member.key.kid),  # even under the witness's kid
            witness_id=witness.id,
            hub_id=settings.hub_id,
            seen=Seen(size, root_hash.hex(), ""),
            now=int(time.time()),
        )
        await db.execute(
            "UPDATE checkpoint_cosignatures SET cosignature = $1 WHERE witness_id = $2", forged, witness.id
        )
        alarmed = await hub(*client, env=env)
    finally:
        await pool.close()
    assert alarmed.code == 1, alarmed
    assert "does not verify" in alarmed.json()["alarm"]


async def test_the_hub_takes_only_a_witness_s_own_cosignature_of_a_checkpoint_it_signed(
    running_hub: Hub, settings: Settings
) -> None:
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    pool = await create_pool(str(settings.database_url))
    try:
        witness = await running_hub.party("ie-regulator-witness", "regulator", "IE")
        other = await running_hub.party("nl-police-other", "law-enforcement", "NL")
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        async with pool.acquire() as conn:
            latest = await conn.fetchrow("SELECT tree_size, root_hash FROM audit_checkpoints ORDER BY 1 DESC")
    finally:
        await pool.close()
    seen = Seen(int(latest["tree_size"]), bytes(latest["root_hash"]).hex(), "")
    now = int(time.time())

    def by(signer: PrivateSigningJwk, **changes: Any) -> str:
        fields = {"witness_id": witness.id, "hub_id": settings.hub_id, "seen": seen, "now": now} | changes
        return cosign(signer, **fields)

    cases = {
        "another's name": (by(other.member.key), 422, "invalid-cosignature"),
        "a key not the witness's": (by(PrivateSigningJwk.generate("stranger")), 422, "invalid-cosignature"),
        "another head": (
            by(witness.member.key, seen=Seen(seen.tree_size, "00" * 32, "")),
            422,
            "invalid-cosignature",
        ),
        "no such checkpoint": (
            by(witness.member.key, seen=Seen(10**6, seen.root_hash, "")),
            404,
            "unknown-checkpoint",
        ),
        "stale": (by(witness.member.key, now=now - 3600), 422, "invalid-cosignature"),
        "not a JWS": ("not-a-jws", 422, "invalid-cosignature"),
    }
    async with aiohttp.ClientSession() as session:
        client = HubClient(session, running_hub.url, witness.id, witness.member.key)
        for name, (text, status, code) in cases.items():
            with pytest.raises(HubError) as refused:
                await client.publish_cosignature(text)
            assert (refused.value.status, refused.value.code) == (status, code), name
        assert (await client.publish_cosignature(by(witness.member.key)))["witness_id"] == witness.id


# -- clients pin each peer's identity (hub.core.pins, hub.client.trust_store) -------------------------------
async def operator_resets(db: asyncpg.Connection, participant_id: str) -> tuple[PrivateSigningJwk, str]:
    """The loud recovery, run by the operator for a key it holds: a new identity whose keys chain
    perfectly from its new root. Returns that root and the readable fingerprint the alarm names."""
    root = PrivateSigningJwk.generate(f"{participant_id}-sig-reset")
    async with db.transaction():
        await reset_participant(
            db,
            participant_id=participant_id,
            jwk=root.public().to_dict(),
            reason="lost",
            at=datetime.now(UTC),
        )
    return root, fingerprint(root.public())


async def test_a_reset_peer_is_refused_until_a_person_accepts_its_new_fingerprint(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-pin", "hotline", "DE")
    platform = await running_hub.party("ie-platform-pin", "platform", "IE")
    first = write_json(running_hub.tmp_path / "first.json", plaintext_request(platform))
    assert_ok(await running_hub.run(hotline, "send", str(first)))  # pins ie-platform-pin, epoch 0

    root, new_fingerprint = await operator_resets(db, platform.id)
    operator_enc = PrivateEncryptionJwk.generate(f"{platform.id}-enc-reset")
    binding = bind_key(
        root,
        participant_id=platform.id,
        hub_id="test-hub",
        key=operator_enc.public(),
        issued_at=int(time.time()),
    )
    async with db.transaction():
        await apply_binding(db, hub_id="test-hub", text=binding, now=datetime.now(UTC))
    sent_before = await messages_count(db)
    again = write_json(running_hub.tmp_path / "again.json", plaintext_request(platform))

    refused = await running_hub.run(hotline, "send", str(again))

    assert_refused(refused, "were reset", new_fingerprint, "hub keys trust", "nothing was sent")
    assert await messages_count(db) == sent_before
    trust = ("keys", "trust", platform.id, "--hub", running_hub.url)
    wrong = await hub(
        *trust, "--fingerprint", fingerprint(platform.member.key.public()), env=hub_env(running_hub.tmp_path)
    )
    assert_refused(wrong, "not the fingerprint", new_fingerprint)
    assert_refused(await running_hub.run(hotline, "send", str(again)), "were reset")  # still refused

    accepted = await hub(*trust, "--fingerprint", new_fingerprint.lower(), env=hub_env(running_hub.tmp_path))

    assert_ok(accepted)
    assert accepted.json() | {"participant_id": platform.id} == {
        "participant_id": platform.id,
        "epoch": 1,
        "fingerprint": new_fingerprint,
        "replaced_epoch": 0,
    }
    assert_ok(await running_hub.run(hotline, "send", str(again)))
    assert await messages_count(db) == sent_before + 1


async def test_a_message_signed_by_a_reset_sender_does_not_verify_for_a_recipient_that_pinned_it(
    running_hub: Hub, db: asyncpg.Connection
) -> None:
    hotline = await running_hub.party("de-hotline-pin", "hotline", "DE")
    platform = await running_hub.party("ie-platform-pin", "platform", "IE")
    await running_hub.send_directly(hotline, platform)
    inbox = ("inbox", "--json", "--enc-key", str(enc_key_file(running_hub, platform)))
    [honest] = (await running_hub.run(platform, *inbox)).json()["messages"]  # pins de-hotline-pin
    assert honest["verified"] is True
    assert_ok(await running_hub.run(platform, "ack", honest["message_id"]))

    impostor, new_fingerprint = await operator_resets(db, hotline.id)
    async with aiohttp.ClientSession() as session:
        client = HubClient(session, running_hub.url, hotline.id, impostor)
        await client.submit(sign_message(takedown(hotline.member, platform.member), impostor))
    page = await running_hub.run(platform, *inbox)

    assert_ok(page)
    [item] = page.json()["messages"]
    assert item["verified"] is False
    assert "were reset" in item["verification_error"]
    assert new_fingerprint in item["verification_error"]


async def test_a_client_that_kept_a_checkpoint_refuses_keys_of_a_rewritten_log(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    """The same operator as above, now against the client library with a trust store: the entry it is
    shown must be under a checkpoint that extends the one it kept, or none of its keys is used."""
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    hotline = await running_hub.party("de-hotline-pin", "hotline", "DE")
    platform = await running_hub.party("ie-platform-pin", "platform", "IE")
    pool = await create_pool(str(settings.database_url))
    store = TrustStore(running_hub.tmp_path / "client-trust.json")
    try:
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        async with aiohttp.ClientSession() as session:
            client = HubClient(session, running_hub.url, hotline.id, hotline.member.key, trust=store)
            honest = await client.participant(platform.id)
            assert {k["kid"] for k in honest["jwks"]["keys"]} >= {platform.member.enc.kid}
            assert "alarm" not in honest["jwks"]
            kept = store.checkpoint(settings.hub_id)
            assert kept is not None

            await rewrite_first_entry(db, hub_key, settings.hub_id)
            later = HubClient(
                session, running_hub.url, hotline.id, hotline.member.key, trust=TrustStore(store.path)
            )
            shown = await later.participant(platform.id)
            with pytest.raises(UnboundKeyError, match="audit log does not back"):
                await later.seal(plaintext_request(platform) | {"from": hotline.id, "id": str(uuid.uuid4())})
    finally:
        await pool.close()

    assert shown["jwks"]["keys"] == []
    assert "rewritten" in shown["jwks"]["alarm"]
    assert TrustStore(store.path).checkpoint(settings.hub_id) == kept  # the bad head is not kept


# -- evidence bundles carry key proofs (hub.core.bundle_keys) ---------------------------------------------
def forged_sender_key(bundle: bytes, sender: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """What a bundle's maker could do before key proofs: sign the sender's first message anew with a key
    of its own under the sender's kid, list that key as the sender's, and make the manifest match. The
    payload is unchanged, so the hub's receipt still names it."""
    files = unpack(bundle)
    manifest = json.loads(files["manifest.json"])
    item = next(m for m in manifest["messages"] if m["from"] == sender)
    token = parse_jws(files[item["file"]])
    kid = token.signatures[0].kid
    forger = PrivateSigningJwk(kid=kid, seed=os.urandom(32))
    header = {k: v for k, v in token.signatures[0].protected.items() if k not in ("alg", "kid")}
    files[item["file"]] = sign_compact(token.payload, forger, header).encode()
    listing_name = manifest["keys"][sender]
    listing = json.loads(files[listing_name])
    for key in listing["keys"]:
        if key["kid"] == kid:
            key["x"] = forger.public().to_dict()["x"]
    files[listing_name] = json.dumps(listing).encode()
    return files, forger.public().to_dict()


def with_manifest(files: dict[str, bytes], change: Any = None) -> bytes:
    manifest = json.loads(files["manifest.json"])
    if change is not None:
        change(manifest)
    manifest["files"] = {n: hashlib.sha256(b).hexdigest() for n, b in files.items() if n != "manifest.json"}
    files["manifest.json"] = json.dumps(manifest).encode()
    return pack(files)


async def test_a_bundle_proves_each_sender_s_key_from_the_hub_s_log(
    aiohttp_client: Any, settings: Settings, directory: Any, db: asyncpg.Connection
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    honest = verify_bundle(told.bundle, own_key(told))
    assert honest.ok, honest.faults
    assert honest.checked["key proofs"] == 2  # the hotline and the platform
    assert not [n for n in honest.notes if "proof" in n]

    files, _ = forged_sender_key(told.bundle, "de-hotline-test")
    forged = verify_bundle(with_manifest(files), own_key(told))

    assert any("not the key the hub's audit log recorded" in f for f in forged.faults), forged.faults


async def test_a_forged_key_proof_or_none_at_all_is_not_taken_for_proof(
    aiohttp_client: Any, settings: Settings, directory: Any, db: asyncpg.Connection
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    files, forger = forged_sender_key(told.bundle, "de-hotline-test")
    proof_name = "keys/de-hotline-test.log.json"
    proof = json.loads(files[proof_name])
    for entry in proof["entries"]:
        jwk = (entry.get("detail") or {}).get("jwk") or {}
        if jwk.get("kid") == forger["kid"]:
            jwk["x"] = forger["x"]  # the log rewritten to match: its inclusion proofs then fail
    files[proof_name] = json.dumps(proof).encode()

    rewritten = verify_bundle(with_manifest(dict(files)), own_key(told))
    dropped = verify_bundle(
        with_manifest(
            {n: b for n, b in files.items() if n != proof_name},
            lambda m: m["key_proofs"].pop("de-hotline-test"),
        ),
        own_key(told),
    )

    assert any("the key proof does not verify" in f for f in rewritten.faults), rewritten.faults
    # without the proof, the verifier cannot tell, and says so rather than calling the key proven
    assert "the keys of de-hotline-test carry no proof from the hub's audit log" in dropped.notes


# -- the hub's own key: rotated only by a binding of the previous one (hub keys rotate) --------------------
def operator_env(settings: Settings) -> dict[str, str]:
    env = hub_env(Path(settings.data_dir))
    env.update(
        HUB_DATABASE_URL=str(settings.database_url),
        HUB_SIGNING_KEY_FILE=str(settings.signing_key_file),
        HUB_ID=settings.hub_id,
    )
    return env


async def test_a_hub_key_rotated_by_its_previous_key_is_followed_and_a_swapped_one_is_not(
    running_hub: Hub, aiohttp_server: Any, settings: Settings
) -> None:
    hotline = await running_hub.party("de-hotline-rot", "hotline", "DE")
    platform = await running_hub.party("ie-platform-rot", "platform", "IE")
    inbox = ("inbox", "--json", "--enc-key", str(enc_key_file(running_hub, platform)))
    first_key = read_signing_key(settings.signing_key_file)
    await running_hub.send_directly(hotline, platform)
    [before] = (await running_hub.run(platform, *inbox)).json()["messages"]  # pins the hub's identity
    assert before["verified"] is True
    assert_ok(await running_hub.run(platform, "ack", before["message_id"]))

    rotated = await hub("keys", "rotate", env=operator_env(settings))

    assert_ok(rotated)
    out = rotated.json()
    new_key = read_signing_key(settings.signing_key_file)
    assert (out["previous_kid"], out["kid"]) == (first_key.kid, new_key.kid)
    assert read_signing_key(Path(out["retired_key_file"])) == first_key
    restarted = await aiohttp_server(create_app(settings, background=False))
    url = f"http://127.0.0.1:{restarted.port}"
    async with aiohttp.ClientSession() as session:
        receipt = await HubClient(session, url, hotline.id, hotline.member.key).send(
            takedown(hotline.member, platform.member)
        )
    assert parse_jws(receipt["receipt"]).signatures[0].kid == new_key.kid
    [after] = (await running_hub.run(platform, *inbox, hub_url=url)).json()["messages"]
    assert after["verified"] is True, after  # the platform follows the rotation by its binding
    assert_ok(await running_hub.run(platform, "ack", after["message_id"], hub_url=url))

    # A key merely put in the key file is a second "registration" of the hub: the platform refuses it.
    settings.signing_key_file.unlink()
    swapped = PrivateSigningJwk.generate("test-hub-sig-swapped")
    write_private_jwk(settings.signing_key_file, swapped)
    again = await aiohttp_server(create_app(settings, background=False))
    other = f"http://127.0.0.1:{again.port}"
    async with aiohttp.ClientSession() as session:
        await HubClient(session, other, hotline.id, hotline.member.key).send(
            takedown(hotline.member, platform.member)
        )
    [refused] = (await running_hub.run(platform, *inbox, hub_url=other)).json()["messages"]
    assert refused["verified"] is False
    assert "second root" in refused["verification_error"]


async def test_rotate_refuses_without_a_hub_key_and_leaves_nothing_half_done(
    settings: Settings, db: asyncpg.Connection
) -> None:
    env = operator_env(settings)
    missing = await hub("keys", "rotate", env=env)
    assert_refused(missing, "no key to rotate")
    write_private_jwk(settings.signing_key_file, PrivateSigningJwk.generate("test-hub-sig-never-listed"))
    unlisted = await hub("keys", "rotate", env=env)  # the hub never started with it: no such hub key
    assert_refused(unlisted, "refused the rotation", "nothing changed")
    assert sorted(p.name for p in settings.signing_key_file.parent.iterdir() if "hub-signing" in p.name) == [
        settings.signing_key_file.name
    ]


# -- witnesses: a head a witness cosigned, which the latest must extend --------------------------------------
async def test_a_fresh_client_requiring_a_witness_sees_a_log_rewritten_after_the_witness_cosigned(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    """The witness cosigned an earlier head; the latest, newer and not cosigned, is accepted because it
    extends that head. Then the operator rewrites history and signs a larger head: a client that never
    ran before (no state of its own) is still shown the break, because the witness saw the old head."""
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    pool = await create_pool(str(settings.database_url))
    env = hub_env(running_hub.tmp_path)
    watch = ("keys", "check-log", "--hub", running_hub.url)
    try:
        witness = await running_hub.party("ie-regulator-witness", "regulator", "IE")
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        cosigned = await hub(
            *watch, "--state", str(running_hub.tmp_path / "witness.json"),
            "--cosign-as", witness.id, "--key", str(witness.key_file), env=env,
        )  # fmt: skip
        assert_ok(cosigned)
        witnessed_size = cosigned.json()["tree_size"]
        await running_hub.party("ie-platform-w", "platform", "IE")
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))

        fingerprint_given = f"{witness.id}={fingerprint(witness.member.key.public())}"
        first = await hub(
            *watch, "--state", str(running_hub.tmp_path / "a.json"), "--witness", fingerprint_given, env=env
        )
        assert_ok(first)
        assert first.json()["tree_size"] > witnessed_size
        kept = json.loads((running_hub.tmp_path / "a.json").read_text())
        assert kept["witnessed_by"] == [{"witness": witness.id, "tree_size": witnessed_size}]

        await rewrite_first_entry(db, hub_key, settings.hub_id)
        fresh = await hub(
            *watch, "--state", str(running_hub.tmp_path / "b.json"), "--witness", witness.id, env=env
        )
    finally:
        await pool.close()

    assert fresh.code == 1, fresh
    assert "rewritten" in fresh.json()["alarm"]


async def test_a_witness_reset_by_the_operator_is_not_a_witness(
    running_hub: Hub, db: asyncpg.Connection, settings: Settings
) -> None:
    """The operator resets the witness to a key of its own and cosigns with it: the cosignature chains
    from the new root, but a client that pinned the witness (on first use, or by fingerprint) refuses it."""
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    pool = await create_pool(str(settings.database_url))
    env = hub_env(running_hub.tmp_path)
    watch = ("keys", "check-log", "--hub", running_hub.url)
    client = (*watch, "--state", str(running_hub.tmp_path / "client.json"))
    try:
        witness = await running_hub.party("ie-regulator-witness", "regulator", "IE")
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        assert_ok(
            await hub(
                *watch, "--state", str(running_hub.tmp_path / "witness.json"),
                "--cosign-as", witness.id, "--key", str(witness.key_file), env=env,
            )
        )  # fmt: skip
        assert_ok(await hub(*client, "--witness", witness.id, env=env))  # pins the witness

        impostor, _ = await operator_resets(db, witness.id)
        impostor_file = running_hub.tmp_path / "impostor.jwk"
        write_private_jwk(impostor_file, impostor)
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
        assert_ok(
            await hub(
                *watch,
                "--state",
                str(running_hub.tmp_path / "op.json"),
                "--cosign-as",
                witness.id,
                "--key",
                str(impostor_file),
                env=env,
            )
        )  # fmt: skip  (the hub takes it: it is the witness's current key now)
        pinned = await hub(*client, "--witness", witness.id, env=env)
        by_fingerprint = await hub(
            *watch, "--state", str(running_hub.tmp_path / "other.json"),
            "--witness", f"{witness.id}={fingerprint(witness.member.key.public())}", env=env,
        )  # fmt: skip
    finally:
        await pool.close()

    assert pinned.code == 1, pinned
    assert "were reset" in pinned.json()["alarm"]
    assert by_fingerprint.code == 1, by_fingerprint
    assert "not the fingerprint you gave" in by_fingerprint.json()["alarm"]


async def test_the_checkpoint_endpoint_gives_a_head_by_size_or_by_witness(
    running_hub: Hub, settings: Settings
) -> None:
    hub_key = load_or_create_signing_key(settings.signing_key_file)
    pool = await create_pool(str(settings.database_url))
    try:
        await running_hub.party("ie-platform-w", "platform", "IE")
        await sequence_and_checkpoint(pool, hub_key, settings.hub_id, datetime.now(UTC))
    finally:
        await pool.close()
    async with aiohttp.ClientSession() as session:
        base = running_hub.url + "/v1/directory/checkpoint"
        latest = await (await session.get(base)).json()
        by_size = await session.get(base, params={"tree_size": str(latest["tree_size"])})
        unknown_size = await session.get(base, params={"tree_size": str(latest["tree_size"] + 99)})
        nobody = await session.get(base, params={"cosigned_by": "ie-platform-w"})
        both = await session.get(base, params={"cosigned_by": "x", "tree_size": "1"})
        assert (await by_size.json())["checkpoint"] == latest["checkpoint"]
        assert unknown_size.status == 404
        assert (await unknown_size.json())["type"].endswith("unknown-checkpoint")
        assert nobody.status == 404
        assert both.status == 400
        assert (await both.json())["type"].endswith("invalid-parameter")


async def test_a_bundle_verifies_against_the_hub_keys_a_log_monitor_pinned(
    running_hub: Hub, aiohttp_client: Any, settings: Settings, directory: Any, db: asyncpg.Connection
) -> None:
    """The root a participant already holds: the state file of its own `check-log` runs. A bundle signed
    by the hub it watched verifies; an impostor's bundle, with a key the monitor never saw, does not."""
    told = await story(aiohttp_client, settings, directory, db)
    state = running_hub.tmp_path / "log.json"
    env = hub_env(running_hub.tmp_path)
    assert_ok(await hub("keys", "check-log", "--hub", running_hub.url, "--state", str(state), env=env))
    genuine = running_hub.tmp_path / "case.zip"
    genuine.write_bytes(told.bundle)
    forged = running_hub.tmp_path / "impostor.zip"
    forged.write_bytes(impostor_of(told.bundle, told.hub_key))

    accepted = await hub("evidence", "verify", str(genuine), "--log-state", str(state), env=env)
    refused = await hub("evidence", "verify", str(forged), "--log-state", str(state), env=env)
    unreadable = await hub("evidence", "verify", str(genuine), "--log-state", str(genuine), env=env)

    assert_ok(accepted)
    assert "your log monitor pinned" in accepted.out
    assert refused.code == 1, refused
    assert_refused(unreadable, "not a state file of hub keys check-log")
