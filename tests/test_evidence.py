"""Evidence bundles: one format (`referral-hub-evidence/1`) made by the operator's export and by a
participant's console, checked by one verifier against the hub's key taken from outside the bundle.

The bundle of a real story verifies with our verifier, file by file with an independent JOSE library
(jwcrypto), and with the script its README carries, run as a reader would run it; any tampering is
caught; an impostor's bundle (its own key under the same HUB_ID) fails with every trust root while the
genuine one passes with each; the verifier refuses to run without a root; the console's bundle verifies
with `hub evidence verify`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from jwcrypto import jwk, jws

from hub.api.app import create_app
from hub.api.keys import HUB_KEY, KEYRING, POOL
from hub.console import create_console_app
from hub.core.bundle import AuditEntry, leaf_data
from hub.core.bundle_readme import SCRIPT_END, SCRIPT_START
from hub.core.bundle_verify import TrustRoot
from hub.core.clock import utc_now
from hub.core.jose import PrivateSigningJwk, parse_jws, sign_compact, verify_signature
from hub.core.merkle import leaf_hash, verify_inclusion
from hub.evidence.export import export_bundle
from hub.evidence.files import MAX_FILE_BYTES, pack, unpack
from hub.evidence.verify import trust_from_fingerprints, trust_from_keys, verify_bundle
from hub.policies import load_retention_policy
from hub.store.audit import sequence_and_checkpoint
from hub.store.purge import purge_due_cases
from tests.console_helpers import console_config, csrf_of, form_body, sign_in, takedown_values
from tests.factories import acknowledgement, jose, refer, removal, run_hub, takedown, takedown_parts


@dataclass
class Story:
    bundle: bytes
    case_id: str
    client: Any  # the hub, served on a real TCP port
    hub_key: PrivateSigningJwk
    published_jwks: dict[str, Any]  # GET /.well-known/jwks.json: the root from outside the bundle


async def story(aiohttp_client: Any, settings: Any, directory: Any, db: asyncpg.Connection) -> Story:
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    platform = await directory.add("ie-platform-test", "platform", "IE")
    app = create_app(settings, background=False)
    client = await aiohttp_client(app)
    request = takedown(hotline, platform)
    case_id = (await (await client.post("/v1/messages", **jose(hotline.sign(request)))).json())["case_id"]
    await client.post("/v1/inbox/ack", json={"message_ids": [request["id"]]}, headers=platform.auth())
    for answer in (
        acknowledgement(platform, hotline, case_id, request["id"]),
        removal(platform, hotline, case_id, request["id"]),
    ):
        assert (await client.post("/v1/messages", **jose(platform.sign(answer)))).status == 202
    await sequence_and_checkpoint(app[POOL], app[HUB_KEY], settings.hub_id, utc_now())
    bundle = await export_bundle(
        db, uuid.UUID(case_id), hub_id=settings.hub_id, now=utc_now(), keyring=app[KEYRING]
    )
    published = await (await client.get("/.well-known/jwks.json")).json()
    return Story(bundle, case_id, client, app[HUB_KEY], published)


def rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def impostor_of(bundle: bytes, hub_key: PrivateSigningJwk) -> bytes:
    """What an impostor hub with the same HUB_ID (and even the same kid) makes: every hub-signed file
    signed with its own key, its key in keys/hub.jwks.json, the receipts backdated by a day, and the
    manifest's digests made to match. Without an outside root, the old verifier accepted this."""
    impostor = PrivateSigningJwk(kid=hub_key.kid, seed=os.urandom(32))
    files = unpack(bundle)
    manifest = json.loads(files["manifest.json"])
    signed_by_hub = [m["receipt"] for m in manifest["messages"]]
    signed_by_hub += manifest["delivery_evidence"] + [manifest["audit"]["checkpoint"]]
    for name in signed_by_hub:
        token = parse_jws(files[name])
        claims = json.loads(token.payload)
        if "accepted_at" in claims:
            claims["accepted_at"] = "2026-01-01T00:00:00Z"
        payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        files[name] = sign_compact(payload, impostor, {"typ": token.signatures[0].protected["typ"]}).encode()
    files["keys/hub.jwks.json"] = json.dumps({"keys": [impostor.public().to_dict()]}).encode()
    manifest["files"] = {n: hashlib.sha256(b).hexdigest() for n, b in files.items() if n != "manifest.json"}
    files["manifest.json"] = json.dumps(manifest).encode()
    return pack(files)


def own_key(story: Story) -> TrustRoot:
    return trust_from_keys([story.hub_key.public()], "the test hub's key")


async def test_a_fresh_bundle_verifies_offline(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    report = verify_bundle(told.bundle, own_key(told))
    assert report.ok, report.faults
    assert report.checked["message signatures"] == 3
    assert report.checked["receipts"] == 3
    assert report.checked["delivery evidences"] >= 1
    assert report.checked["audit entries"] >= 8
    assert (report.case_id, report.made_by, report.trust) == (told.case_id, "test-hub", "the test hub's key")
    files = unpack(told.bundle)
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "referral-hub-evidence/1"
    assert manifest["purged"] is None
    assert json.loads(files["timeline.json"])["status"] == "actioned"


async def test_jwcrypto_verifies_every_signed_file_with_the_hub_s_published_keys(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    files = unpack(told.bundle)
    manifest = json.loads(files["manifest.json"])

    def keys_of(document: dict[str, Any]) -> dict[str, Any]:
        return {k["kid"]: jwk.JWK(**{n: k[n] for n in ("kty", "crv", "x", "kid")}) for k in document["keys"]}

    hub_keys = keys_of(told.published_jwks)
    for name in [m["receipt"] for m in manifest["messages"]] + manifest["delivery_evidence"]:
        token = jws.JWS()
        token.deserialize(files[name].decode())
        token.verify(hub_keys[token.jose_header["kid"]], alg="EdDSA")
    for item in manifest["messages"]:
        token = jws.JWS()
        token.deserialize(files[item["file"]].decode())
        token.verify(keys_of(json.loads(files[manifest["keys"][item["from"]]]))[token.jose_header["kid"]])
        receipt = jws.JWS()
        receipt.deserialize(files[item["receipt"]].decode())
        assert (
            json.loads(receipt.objects["payload"])["payload_sha256"]
            == hashlib.sha256(token.objects["payload"]).hexdigest()
        )
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == digest


async def test_tampering_with_any_file_is_caught(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    files = unpack(told.bundle)
    manifest = json.loads(files["manifest.json"])
    message = manifest["messages"][0]["file"]
    header, payload, signature = files[message].decode().split(".")
    forged = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    tampered = {**files, message: f"{header}.{forged}.{signature}".encode()}
    report = verify_bundle(rezip(tampered), own_key(told))
    assert not report.ok
    assert any(message in fault for fault in report.faults)

    entries = json.loads(files["audit/entries.json"])
    entries[0]["actor"] = "someone-else"
    report = verify_bundle(
        rezip({**files, "audit/entries.json": json.dumps(entries).encode()}), own_key(told)
    )
    assert any("audit entry" in fault for fault in report.faults)


def readme_script(bundle: bytes) -> str:
    readme = unpack(bundle)["README.txt"].decode()
    return readme.split(SCRIPT_START + "\n", 1)[1].split("\n" + SCRIPT_END, 1)[0] + "\n"


def run_readme_script(
    bundle: bytes, hub_jwks: dict[str, Any], folder: Path
) -> subprocess.CompletedProcess[str]:
    """As the README says: unzip, save the script as check.py there, run it with the hub's key set."""
    folder.mkdir()
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        archive.extractall(folder)
    (folder / "check.py").write_text(readme_script(bundle))
    (folder.parent / f"{folder.name}-hub.jwks.json").write_text(json.dumps(hub_jwks))
    return subprocess.run(
        [sys.executable, "check.py", str(folder.parent / f"{folder.name}-hub.jwks.json")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_readme_script_checks_the_bundle_by_hand(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any, tmp_path: Path
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    ran = run_readme_script(told.bundle, told.published_jwks, tmp_path / "genuine")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().endswith("the bundle verifies")
    assert "audit: the case's entries are in the log the hub signed" in ran.stdout
    assert ran.stdout.count("the hub's receipt verifies") == 3

    forged = run_readme_script(
        impostor_of(told.bundle, told.hub_key), told.published_jwks, tmp_path / "forged"
    )
    assert forged.returncode != 0
    assert "the bundle verifies" not in forged.stdout


def verify_env(settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=settings.database_url,
        HUB_SIGNING_KEY_FILE=str(settings.signing_key_file),
        HUB_DATA_DIR=str(settings.data_dir),
        HUB_ID=settings.hub_id,
    )
    return env


async def test_verify_refuses_to_run_without_a_root_outside_the_bundle(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any, tmp_path: Path
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    path = tmp_path / "bundle.zip"
    path.write_bytes(told.bundle)
    code, out, err = await run_hub("evidence", "verify", str(path), env=verify_env(settings))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "--hub-jwks" in err
    assert "--hub-fingerprint" in err
    assert "--audit-log" in err
    assert "Traceback" not in err
    plain = "http://hub.example.org/.well-known/jwks.json"
    code, _, err = await run_hub(
        "evidence", "verify", str(path), "--hub-jwks", plain, env=verify_env(settings)
    )
    assert code == 1
    assert "fetch the hub's keys over https" in err
    assert err.count("\n") == 1


ROOTS = ("fingerprint", "jwks-file", "jwks-url", "audit-log")


@pytest.mark.parametrize("root", ROOTS)
async def test_an_impostor_bundle_fails_with_each_trust_root_and_the_genuine_one_passes(
    root: str, aiohttp_client: Any, settings: Any, directory: Any, db: Any, tmp_path: Path
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    jwks_file = tmp_path / "hub.jwks.json"
    jwks_file.write_text(json.dumps(told.published_jwks))
    fingerprint = told.hub_key.public().thumbprint()
    options = {
        "fingerprint": [f"--hub-fingerprint={fingerprint}"],
        "jwks-file": ["--hub-jwks", str(jwks_file)],
        "jwks-url": ["--hub-jwks", str(told.client.make_url("/.well-known/jwks.json"))],
        "audit-log": ["--audit-log"],
    }[root]
    said = {
        "fingerprint": f"trust root: pinned fingerprint {fingerprint}",
        "jwks-file": f"trust root: JWK Set {jwks_file}",
        "jwks-url": "trust root: JWK Set http://127.0.0.1:",
        "audit-log": "trust root: the hub's audit log",
    }[root]
    genuine, forged = tmp_path / "genuine.zip", tmp_path / "forged.zip"
    genuine.write_bytes(told.bundle)
    forged.write_bytes(impostor_of(told.bundle, told.hub_key))
    assert verify_bundle(forged.read_bytes(), trust_from_fingerprints([fingerprint])).faults

    code, out, err = await run_hub("evidence", "verify", str(genuine), *options, env=verify_env(settings))
    assert code == 0, err
    assert out.startswith("evidence verifies: ")
    assert said in out
    assert f"case {told.case_id}, made by test-hub" in out

    code, out, err = await run_hub("evidence", "verify", str(forged), *options, env=verify_env(settings))
    assert code == 1
    assert out == ""
    assert err.startswith("hub: error: evidence does NOT verify: ")
    assert err.count("\n") == 1
    assert said in err
    assert "Traceback" not in err


async def test_a_bundle_of_another_format_or_an_unsafe_zip_is_refused_in_one_line(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any, tmp_path: Path
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    files = unpack(told.bundle)
    manifest = json.loads(files["manifest.json"])
    del manifest["format"]
    (tmp_path / "other.zip").write_bytes(rezip({**files, "manifest.json": json.dumps(manifest).encode()}))
    (tmp_path / "not.zip").write_bytes(b"not a zip file")
    (tmp_path / "escape.zip").write_bytes(rezip({**files, "../outside.txt": b"x"}))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("timeline.json", b"0" * (MAX_FILE_BYTES + 1))
    (tmp_path / "bomb.zip").write_bytes(bomb.getvalue())
    fingerprint = told.hub_key.public().thumbprint()
    refusals = (
        ("other.zip", "a bundle made before it: export or download it again"),
        ("not.zip", "not a ZIP file"),
        ("escape.zip", "it holds a file named '../outside.txt'"),
        ("bomb.zip", "it unpacks to more than an evidence bundle can hold"),
    )
    for name, said in refusals:
        code, _, err = await run_hub(
            "evidence",
            "verify",
            str(tmp_path / name),
            "--hub-fingerprint",
            fingerprint,
            env=verify_env(settings),
        )
        assert code == 1
        assert said in err
        assert err.count("\n") == 1
        assert "Traceback" not in err


async def test_the_console_s_bundle_verifies_with_hub_evidence_verify(
    aiohttp_client: Any, settings: Any, directory: Any, tmp_path: Path
) -> None:
    """Cross-seam: a hotline's console sends a referral and keeps the platform's answers; the bundle
    it downloads is the one format, and the command line verifies it against the hub's published keys."""
    hotline = await directory.add("de-hotline-console", "hotline", "DE")
    platform = await directory.add("ie-platform-console", "platform", "IE")
    app = create_app(settings, background=False)
    hub = await aiohttp_client(app)
    config = console_config(hotline, str(hub.make_url("")).rstrip("/"), tmp_path / "console")
    console = await aiohttp_client(create_console_app(config))
    await sign_in(console, config)
    page = await (await console.get("/new/takedown-request")).text()
    token = page.split('name="message_id" value="', 1)[1].split('"', 1)[0]
    message_id = token.split(".")[0]  # the form token: the message id and its binding to the form
    values = {**takedown_values(platform.id), "message_id": token}
    sent = await console.post(
        "/new/takedown-request", data=form_body(values, csrf_of(page)), allow_redirects=False
    )
    assert sent.status == 303, await sent.text()
    case_id = sent.headers["Location"].removeprefix("/cases/")
    assert (
        await hub.post("/v1/inbox/ack", json={"message_ids": [message_id]}, headers=platform.auth())
    ).status == 200
    for answer in (
        acknowledgement(platform, hotline, case_id, message_id),
        removal(platform, hotline, case_id, message_id),
    ):
        assert (await hub.post("/v1/messages", **jose(platform.sign(answer)))).status == 202
    csrf = csrf_of(await (await console.get(f"/cases/{case_id}")).text())  # "Fetch new messages"
    fetched = await console.post("/inbox/fetch", data={"csrf": csrf}, allow_redirects=False)
    assert fetched.status == 303, await fetched.text()
    await sequence_and_checkpoint(app[POOL], app[HUB_KEY], settings.hub_id, utc_now())

    download = await console.get(f"/cases/{case_id}/evidence.zip")
    assert download.status == 200
    path = tmp_path / "console-bundle.zip"
    path.write_bytes(await download.read())
    url = str(hub.make_url("/.well-known/jwks.json"))
    code, out, err = await run_hub(
        "evidence", "verify", str(path), "--hub-jwks", url, env=verify_env(settings)
    )
    assert code == 0, err
    assert f"case {case_id}, made by {hotline.id}" in out
    assert "3 message signatures" in out
    assert "3 receipts" in out
    assert "3 delivery evidences" in out
    assert "audit entries" in out
    assert "note: no audit proofs" not in out
    assert "2 key proofs" in out  # the hotline's and the platform's keys, from the hub's log
    assert "carry no proof" not in out

    # Retention purges the case at the hub; the console's copies and the hub's proofs still verify.
    later = utc_now() + timedelta(days=400)
    assert await purge_due_cases(app[POOL], load_retention_policy(), later) == [uuid.UUID(case_id)]
    download = await console.get(f"/cases/{case_id}/evidence.zip")
    assert download.status == 200
    purged = await download.read()
    assert json.loads(unpack(purged)["manifest.json"])["purged"] is not None
    assert "PURGED at the hub" in unpack(purged)["README.txt"].decode()
    path.unlink()
    path.write_bytes(purged)
    code, out, err = await run_hub(
        "evidence", "verify", str(path), "--hub-jwks", url, env=verify_env(settings)
    )
    assert code == 0, err
    assert ", PURGED at " in out
    assert "3 message signatures" in out
    assert "note: the case was purged" in out


def hub_written_answer(bundle: bytes, hub_key: PrivateSigningJwk, attested: bool) -> bytes:
    """The platform's acknowledgement replaced by one the hub signed itself (as it does for an answer by
    e-mail), with a receipt for it, and the manifest made to match."""
    files = unpack(bundle)
    manifest = json.loads(files["manifest.json"])
    item = next(m for m in manifest["messages"] if m["type"] == "acknowledgement")
    envelope = json.loads(parse_jws(files[item["file"]]).payload)
    if attested:
        envelope["attestation"] = {"by": "test-hub", "channel": "email", "evidence_sha256": "00" * 32}
    payload = json.dumps(envelope).encode()
    files[item["file"]] = sign_compact(payload, hub_key).encode()
    receipt = json.loads(parse_jws(files[item["receipt"]]).payload)
    receipt["payload_sha256"] = item["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    files[item["receipt"]] = sign_compact(json.dumps(receipt).encode(), hub_key).encode()
    manifest["delivery_evidence"] = [
        n for n in manifest["delivery_evidence"] if not n.startswith(f"deliveries/{item['message_id']}")
    ]
    manifest["files"] = {n: hashlib.sha256(b).hexdigest() for n, b in files.items() if n != "manifest.json"}
    files["manifest.json"] = json.dumps(manifest).encode()
    return pack(files)


async def test_the_hub_s_key_speaks_for_a_platform_only_in_an_answer_it_says_it_attests(
    aiohttp_client: Any, settings: Any, directory: Any, db: Any
) -> None:
    told = await story(aiohttp_client, settings, directory, db)
    attested = verify_bundle(hub_written_answer(told.bundle, told.hub_key, attested=True), own_key(told))
    assert attested.ok, attested.faults
    assert attested.checked["hub-attested answers"] == 1
    assert attested.checked["message signatures"] == 3

    posing = verify_bundle(hub_written_answer(told.bundle, told.hub_key, attested=False), own_key(told))
    [fault] = posing.faults
    assert "signed with the hub's key" in fault
    assert "neither from the hub nor attested by it" in fault


async def test_a_recipient_gets_the_audit_proofs_of_its_own_part_only(
    aiohttp_client: Any, settings: Any, directory: Any
) -> None:
    """Fan-out: each platform's proofs verify against the hub-signed head and never name the other
    platform; the hotline gets every entry; anyone else is refused."""
    hotline = await directory.add("de-hotline-test", "hotline", "DE")
    first = await directory.add("ie-platform-test", "platform", "IE")
    second = await directory.add("nl-platform-test", "platform", "NL")
    outsider = await directory.add("fr-platform-test", "platform", "FR")
    app = create_app(settings, background=False)
    client = await aiohttp_client(app)

    async def accepted(envelope: dict[str, Any]) -> dict[str, Any]:
        response = await client.post("/v1/messages", **jose(hotline.sign(envelope)))
        assert response.status == 202, await response.text()
        receipt: dict[str, Any] = await response.json()
        return receipt

    request = await refer(accepted, takedown_parts(hotline, first, second))
    case_id = request.case_id
    ours = request.id_of(first)
    await client.post("/v1/inbox/ack", json={"message_ids": [ours]}, headers=first.auth())
    answer = acknowledgement(first, hotline, case_id, ours)
    assert (await client.post("/v1/messages", **jose(first.sign(answer)))).status == 202
    await sequence_and_checkpoint(app[POOL], app[HUB_KEY], settings.hub_id, utc_now())
    hub_keys = {app[HUB_KEY].kid: app[HUB_KEY].public()}

    def verified(proofs: dict[str, Any]) -> list[dict[str, Any]]:
        head = json.loads(parse_jws(proofs["checkpoint"]).payload)
        verify_signature(
            parse_jws(proofs["checkpoint"]),
            parse_jws(proofs["checkpoint"]).signatures[0],
            hub_keys[app[HUB_KEY].kid],
        )
        for entry in proofs["entries"]:
            parsed = AuditEntry.from_document(entry)
            assert verify_inclusion(
                leaf_hash(leaf_data(entry)),
                parsed.leaf_index,
                head["tree_size"],
                list(parsed.proof),
                bytes.fromhex(head["root_hash"]),
            )
        return list(proofs["entries"])

    url = f"/v1/cases/{case_id}/proofs"
    everything = verified(await (await client.get(url, headers=hotline.auth())).json())
    assert second.id in json.dumps(everything)
    for platform, other in ((first, second), (second, first)):
        answered = await client.get(url, headers=platform.auth())
        assert answered.status == 200
        mine = verified(await answered.json())
        assert mine
        assert other.id not in json.dumps(mine)
        assert len(mine) < len(everything)
    refused = await client.get(url, headers=outsider.auth())
    assert refused.status == 403
    assert (await refused.json())["type"].endswith("not-a-party")
