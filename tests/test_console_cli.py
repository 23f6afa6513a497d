"""`hub console` as a user starts it: a process that prints its sign-in link once, serves the console
on 127.0.0.1, talks to a real hub, and stops cleanly on SIGTERM; clear errors for bad key files.

The refusals (bad files, a hub or participant or key that does not check out) run in this process
(`tests.factories.run_hub`: `main`'s exit code and its own stderr); starting, the printed link and SIGTERM
run in a real one."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.api.app import create_app
from hub.core.jose import PrivateSigningJwk
from hub.keyfile import write_private_jwk
from tests.factories import Member, run_hub

LINK = re.compile(r"http://127\.0\.0\.1:([0-9]+)/login\?token=([A-Za-z0-9_-]+)")


def key_files(member: Member, folder: Path) -> tuple[Path, Path]:
    sig, enc = folder / "sig.jwk", folder / "enc.jwk"
    write_private_jwk(sig, member.key)
    write_private_jwk(enc, member.enc)
    return sig, enc


async def refused(*args: str) -> tuple[int, str, str]:
    """`hub console ARGS` in this process, for a refusal before it starts (it never serves)."""
    return await run_hub("console", *args, env={**os.environ, "HUB_CONSOLE_PASSPHRASE": ""})


async def run_console(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "HUB_CONSOLE_PASSPHRASE": ""}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "console", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip


async def test_the_console_prints_its_link_serves_and_stops(
    settings: Any, directory: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    member = await directory.add("de-hotline-cli-console", "hotline", "DE")
    hub = await aiohttp_client(create_app(settings, background=False))
    sig, enc = key_files(member, tmp_path)
    hub_url = str(hub.make_url("")).rstrip("/")
    process = await run_console(
        "--key", str(sig), "--enc-key", str(enc), "--as", member.id, "--hub", hub_url,
        "--port", "0", "--data-dir", str(tmp_path / "console"),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        printed = ""
        while not LINK.search(printed):
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            assert line, (
                f"the console exited: {(await process.stderr.read()).decode() if process.stderr else ''}"
            )
            printed += line.decode()
        port, token = LINK.search(printed).groups()  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(f"{base}/login?token={token}", allow_redirects=False) as opened:
                assert opened.status == 200
            async with browser.post(
                f"{base}/login", data={"token": token}, allow_redirects=False
            ) as signed_in:
                assert signed_in.status == 303
            async with browser.get(f"{base}/inbox") as inbox:
                assert inbox.status == 200
                assert "Nothing has arrived yet" in await inbox.text()
            async with browser.get(f"{base}/new/takedown-request") as form:
                assert form.status == 200
        async with aiohttp.ClientSession() as other_browser:
            async with other_browser.post(f"{base}/login", data={"token": token}) as spent:
                assert spent.status == 403  # the printed link signed in once
            async with other_browser.post(f"{base}/login/link", allow_redirects=False) as asked:
                assert asked.status == 303
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
            line += (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
            assert "New sign-in link" in line
            found = LINK.search(line)
            assert found
            assert found.group(2) != token
            async with other_browser.post(
                f"{base}/login", data={"token": found.group(2)}, allow_redirects=False
            ) as renewed:
                assert renewed.status == 303
        assert (tmp_path / "console" / "messages").stat().st_mode & 0o077 == 0
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0
    assert process.stderr is not None
    logged = (await process.stderr.read()).decode()
    assert token not in logged
    assert [json.loads(line)["event"] for line in logged.splitlines()][:1] == ["console.started"]


@pytest.mark.parametrize("problem", ["missing-key", "enc-is-signing", "empty-passphrase", "link-seconds"])
async def test_bad_key_and_passphrase_files_are_refused_plainly(
    tmp_path: Path, directory: Any, problem: str
) -> None:
    member = await directory.add("de-hotline-cli-bad", "hotline", "DE")
    sig, enc = key_files(member, tmp_path)
    args = ["--key", str(sig), "--as", member.id, "--hub", "http://127.0.0.1:9", "--port", "0"]
    expected = {
        "missing-key": "no key file at",
        "enc-is-signing": "holds a signing key, not an X25519 encryption key",
        "empty-passphrase": "is empty",
        "link-seconds": "--link-seconds must be a number of seconds from 30 to 86400",
    }[problem]
    if problem == "missing-key":
        args[1] = str(tmp_path / "nowhere.jwk")
    elif problem == "enc-is-signing":
        args += ["--enc-key", str(sig)]
    elif problem == "link-seconds":
        args += ["--link-seconds", "0"]
    else:
        (tmp_path / "passphrase").write_text("\n")
        args += ["--passphrase-file", str(tmp_path / "passphrase")]
    code, _, stderr = await refused(*args)
    assert code == 1
    assert expected in stderr
    assert enc.exists()


@pytest.mark.parametrize("problem", ["hub-down", "unknown-participant", "other-key", "revoked-key"])
async def test_the_console_checks_the_hub_the_participant_and_the_key_before_it_starts(
    settings: Any, directory: Any, aiohttp_client: Any, db: Any, tmp_path: Path, problem: str
) -> None:
    member = await directory.add("de-hotline-cli-check", "hotline", "DE")
    hub = await aiohttp_client(create_app(settings, background=False))
    sig, _ = key_files(member, tmp_path)
    hub_url = str(hub.make_url("")).rstrip("/")
    who = member.id
    expected = {
        "hub-down": "cannot reach the hub at http://127.0.0.1:9",
        "unknown-participant": "has no participant 'de-hotline-cli-typo': check --as",
        "other-key": f"your key '{member.key.kid}' is not a signing key of '{member.id}'",
        "revoked-key": f"the key '{member.key.kid}' of '{member.id}' is no longer current",
    }[problem]
    if problem == "hub-down":
        hub_url = "http://127.0.0.1:9"
    elif problem == "unknown-participant":
        who = "de-hotline-cli-typo"
    elif problem == "other-key":
        write_private_jwk(sig.with_name("other.jwk"), PrivateSigningJwk.generate(member.key.kid))
        sig = sig.with_name("other.jwk")
    else:
        await db.execute("UPDATE participant_keys SET revoked_at = now() WHERE kid = $1", member.key.kid)
    code, stdout, stderr = await refused(
        "--key", str(sig), "--as", who, "--hub", hub_url, "--port", "0", "--data-dir", str(tmp_path / "c")
    )  # fmt: skip
    assert code == 1
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    assert expected in lines[0]
    assert "login?token=" not in stdout  # it did not start
