"""The periodic peer sync (docs/federation.md, section 3): the hub's workers take every registered peer
hub's vouching feed by themselves, with `sync_peer`, the function `hub peers sync` runs. Two hubs in this
process, each its own database; the round is driven directly (`sync_all_peers`), never by a timer."""

from __future__ import annotations

import socket

import aiohttp
from structlog.testing import capture_logs

from hub.api.keys import DSN, HUB_KEY, POOL
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateSigningJwk
from hub.services.peer_sync import sync_all_peers
from hub.store import directory
from hub.store.audit import sequence_and_checkpoint
from hub.store.database import connect
from tests.factories import Directory
from tests.test_federation_forwarding import hub_b_url  # noqa: F401  (a fixture)
from tests.test_federation_two_hubs import HUB_A, HUB_B, Federation, federation, register_peer  # noqa: F401

DOWN_PEER = "hub-0.example.org"  # listed before hub A: its failure comes first in the round


async def test_a_participant_vouched_for_on_a_appears_on_b_after_bs_periodic_round(
    federation: Federation,  # noqa: F811
) -> None:
    f = federation
    await Directory(f.a.db, HUB_A).add("at-hotline", "hotline", "AT")  # after the first sync
    await sequence_and_checkpoint(f.a.app[POOL], f.a.app[HUB_KEY], HUB_A, f.a.clock())
    with socket.socket() as bound:  # a peer of B that does not answer
        bound.bind(("127.0.0.1", 0))
        down = HubIdentity(DOWN_PEER, PrivateSigningJwk.generate("hub-0-key"))
        await register_peer(f.b.db, down, f"http://127.0.0.1:{bound.getsockname()[1]}")
        pool = f.b.app[POOL]
        async with aiohttp.ClientSession() as session:
            # another hub process holds the round: this one skips it, nothing taken
            async with connect(f.b.app[DSN]) as other, other.transaction():
                assert await directory.try_peer_sync_lock(other)
                assert await sync_all_peers(pool, session, HUB_B, f.b.clock) is None
            assert await directory.get_participant(f.b.db, f"at-hotline@{HUB_A}") is None

            with capture_logs() as logs:
                done = await sync_all_peers(pool, session, HUB_B, f.b.clock)

    assert done is not None
    assert done.synced == {HUB_A: 2}  # de-hotline and at-hotline, after the peer that failed
    assert list(done.failed) == [DOWN_PEER]
    assert "cannot reach" in done.failed[DOWN_PEER]
    mirrored = await directory.get_participant(f.b.db, f"at-hotline@{HUB_A}")
    assert mirrored is not None
    assert mirrored.home_hub == HUB_A
    (failed,) = [e for e in logs if e["event"] == "peer_sync.failed"]
    assert set(failed) == {"event", "log_level", "peer", "reason"}  # the peer and why, nothing else
    assert failed["peer"] == DOWN_PEER
    assert "Fictitious" not in str(logs)  # no participant's name in any line of the round
