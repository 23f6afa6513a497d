"""A client without a key cannot take the hub down (issue 14, finding 1).

The hub runs in-process behind its connection guard (`hub.api.server.serve`) with small limits; raw
sockets play the attacker: connections that never finish their headers, a body that never arrives, a
participant holding many long-polls. Each test fails on a hub served without the guard.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from hub.api.app import create_app
from hub.api.connections import AcceptErrorLog
from hub.api.server import GuardedSite, serve
from hub.settings import LimitSettings

LIMITS = LimitSettings(
    max_connections=8,
    connection_reserve=2,
    header_timeout_seconds=1.0,
    body_timeout_seconds=1.0,
    max_long_polls_per_participant=2,
)


@pytest_asyncio.fixture
async def hub_url(settings: Any) -> AsyncIterator[str]:
    app = create_app(settings.with_changes(limits=LIMITS), background=False)
    started: asyncio.Future[GuardedSite] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, "127.0.0.1", 0, on_started=started.set_result))
    site = await asyncio.wait_for(started, 30)
    try:
        yield f"http://127.0.0.1:{site.bound_port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def park(
    url: str, n: int, first_bytes: bytes = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
) -> list[Any]:
    """`n` connections that send the start of a request and then nothing."""
    port = int(url.rsplit(":", 1)[1])
    parked = []
    for _ in range(n):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(first_bytes)
        await writer.drain()
        parked.append((reader, writer))
    return parked


async def test_parked_connections_beyond_the_cap_leave_health_and_participants_answering(
    hub_url: str, directory: Any
) -> None:
    platform = await directory.add("ie-platform-test", "platform", "IE")
    parked = await park(hub_url, 3 * (LIMITS.max_connections + LIMITS.connection_reserve))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{hub_url}/healthz") as response:
            assert response.status == 200
        async with session.get(f"{hub_url}/v1/inbox", headers=platform.auth()) as response:
            assert response.status == 200, await response.text()
    # Every parked socket is closed by the hub within the header timeout (plus the sweep interval).
    results = await asyncio.gather(*(reader.read(65536) for reader, _ in parked), return_exceptions=True)
    assert all(r == b"" or isinstance(r, ConnectionResetError) for r in results), results[:3]
    for _, writer in parked:
        writer.close()


async def test_a_connection_that_sends_no_request_is_closed_after_the_header_timeout(hub_url: str) -> None:
    [(reader, writer)] = await park(hub_url, 1, b"GET /healthz HTTP/1.1\r\nHo")
    data = await asyncio.wait_for(reader.read(65536), LIMITS.header_timeout_seconds + 5)
    assert data == b""  # closed, not answered and not held
    writer.close()


async def test_a_body_that_never_arrives_gets_408_and_the_socket_is_closed(hub_url: str) -> None:
    head = (
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/jose\r\n"
        b"Content-Length: 5000\r\n\r\n" + b"e" * 10
    )
    [(reader, writer)] = await park(hub_url, 1, head)
    answer = await asyncio.wait_for(reader.read(), LIMITS.body_timeout_seconds + 5)  # read() to EOF: closed
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 408 Request Timeout", answer[:200]
    assert b"urn:referral-hub:problem:request-timeout" in answer
    writer.close()


async def test_the_reserve_serves_probes_and_refuses_the_rest_with_503(hub_url: str, directory: Any) -> None:
    platform = await directory.add("ie-platform-test", "platform", "IE")
    # Fill the cap with requests in progress (long-polls), which the guard may not evict.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        others = [await directory.add(f"ie-platform-test-{i}", "platform", "IE") for i in range(8)]
        polls = [
            asyncio.create_task(session.get(f"{hub_url}/v1/inbox?wait=5", headers=m.auth())) for m in others
        ]
        await asyncio.sleep(0.5)
        async with session.get(f"{hub_url}/healthz") as response:
            assert response.status == 200
        async with session.get(f"{hub_url}/v1/inbox", headers=platform.auth()) as response:
            assert response.status == 503
            assert response.headers["Retry-After"]
            assert (await response.json())["type"] == "urn:referral-hub:problem:service-unavailable"
        for poll in polls:
            (await poll).release()


async def test_one_participant_cannot_hold_more_long_polls_than_the_limit(
    hub_url: str, directory: Any
) -> None:
    platform = await directory.add("ie-platform-test", "platform", "IE")
    async with aiohttp.ClientSession() as session:
        held = [
            asyncio.create_task(session.get(f"{hub_url}/v1/inbox?wait=3", headers=platform.auth()))
            for _ in range(LIMITS.max_long_polls_per_participant)
        ]
        await asyncio.sleep(0.5)
        async with session.get(f"{hub_url}/v1/inbox?wait=3", headers=platform.auth()) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "1"
            assert (await response.json())["type"] == "urn:referral-hub:problem:too-many-long-polls"
        for poll in held:
            response = await poll
            assert response.status == 200
            response.release()


def test_accept_errors_are_logged_once_per_interval(capsys: pytest.CaptureFixture[str]) -> None:
    now = [0.0]
    handler = AcceptErrorLog(interval=10.0, now=lambda: now[0])
    loop = asyncio.new_event_loop()
    try:
        for i in range(1000):
            now[0] = i * 0.01  # 1,000 failed accepts over ten seconds
            handler(
                loop, {"message": "socket.accept() out of system resource", "exception": OSError(24, "x")}
            )
    finally:
        loop.close()
    assert handler.suppressed == 999  # one line written, the rest counted for the next one


async def test_metrics_asks_for_its_token_when_one_is_configured(
    aiohttp_client: Any, settings: Any, tmp_path: Any
) -> None:
    token_file = tmp_path / "metrics-token"
    token_file.write_text("scrape-token-for-tests\n")
    client = await aiohttp_client(
        create_app(settings.with_changes(metrics_token_file=token_file), background=False)
    )
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
    answered = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})
    assert answered.status == 200
    assert "hub_connections" in await answered.text()
