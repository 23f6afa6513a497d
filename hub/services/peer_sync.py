"""Syncing a peer's vouching feed (docs/federation.md, section 3): fetch
`GET <peer>/v1/federation/participants` from the peer's endpoint in this hub's directory, verify it with
the peer's registered keys (`hub.services.vouching.peer_feed`) and mirror it (`mirror_feed`, one
transaction). Anything that fails (the peer unknown or unreachable, an answer that is not its signed feed,
a feed that does not verify or names an id held by another) is a `PeerSyncError` with one line saying
which, and changes nothing.

The operator runs it for one peer (`hub peers sync PEER`); the hub's workers run it for every registered
peer every `HUB_PEER_SYNC_SECONDS` (`PeerSyncer`, one round `sync_all_peers`): the same `sync_peer`, so
the same checks. A round is run by one hub process at a time (an advisory lock; another process skips
its round), each peer on a connection of its own, and one peer's failure is logged (the peer's id and
the one-line reason, never participant data) and never stops the others."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import asyncpg
import structlog

from hub.core.clock import Clock
from hub.core.jose import PublicJwk
from hub.core.log_watch import LogAlarm, Seen, check_advance, read_checkpoint
from hub.core.vouching_feed import Feed, FeedError, feed_heads
from hub.services.vouching import mirror_feed, peer_feed
from hub.store import directory
from hub.store.database import Conn
from hub.store.directory import DirectoryError

FEED_PATH = "/v1/federation/participants"
CONSISTENCY_PATH = "/v1/directory/consistency"
MAX_FEED_BYTES = 8 * 1024 * 1024

log = structlog.get_logger("hub.peer_sync")


class PeerSyncError(Exception):
    """A peer's feed could not be taken; the message is one line and names no participant data."""


async def sync_peer(
    conn: Conn,
    session: aiohttp.ClientSession,
    peer_id: str,
    at: datetime,
    *,
    wait_seconds: float = 30.0,
    accept_rewritten_log: bool = False,
) -> list[str]:
    """Fetch, verify and mirror `peer_id`'s feed; the global ids it lists. A feed whose log does not
    extend the head kept sets the peer's log alarm (its forwardings are refused until it is cleared);
    `accept_rewritten_log` (a person checked with the peer's operator) forgets the head kept, takes the
    peer's log as it is now and clears the alarm."""
    peer = await directory.get_participant(conn, peer_id)
    if peer is None or peer.kind != "hub":
        raise PeerSyncError(f"'{peer_id}' is not a registered peer hub (kind hub)")
    if not peer.endpoint:
        raise PeerSyncError(f"the peer hub '{peer_id}' has no endpoint in the directory")
    base = peer.endpoint.rstrip("/")
    text = await _fetch(session, base + FEED_PATH, peer_id, wait_seconds)
    try:
        feed = await peer_feed(conn, peer_id, text)
        heads = await _extending_heads(conn, session, base, feed, wait_seconds, forget=accept_rewritten_log)
        async with conn.transaction():
            listed = await mirror_feed(conn, feed, at)
            if heads:
                await directory.set_peer_checkpoint(conn, peer_id, heads[-1].checkpoint)
            if accept_rewritten_log:
                await directory.set_peer_log_alarm(conn, peer_id, None)
        return listed
    except (FeedError, DirectoryError) as exc:
        raise PeerSyncError(f"the feed of '{peer_id}' is refused: {exc}") from None
    except LogAlarm as exc:
        alarm = f"its log does not extend the one this hub kept: {exc}"
        await directory.set_peer_log_alarm(conn, peer_id, alarm)
        raise PeerSyncError(
            f"the feed of '{peer_id}' is refused, {alarm}; its forwardings are refused until a person "
            f"has checked with its operator: hub peers sync {peer_id} --accept-rewritten-log"
        ) from None


@dataclass(frozen=True)
class SyncRound:
    """One round of the periodic sync: per peer, how many participants its feed listed, or why not."""

    synced: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


async def sync_all_peers(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    hub_id: str,
    clock: Clock,
    *,
    wait_seconds: float = 30.0,
) -> SyncRound | None:
    """`sync_peer` for every peer hub registered here, each on a connection of its own; None if another
    hub process is running a round (the lock is held by a transaction of its own for the round)."""
    async with pool.acquire() as holder, holder.transaction():
        if not await directory.try_peer_sync_lock(holder):
            return None
        done = SyncRound()
        for peer_id in await directory.peer_hubs(holder, hub_id):
            try:
                async with pool.acquire() as conn:
                    listed = await sync_peer(conn, session, peer_id, clock(), wait_seconds=wait_seconds)
            except PeerSyncError as exc:
                done.failed[peer_id] = str(exc)
            except Exception as exc:  # the database, or a fault of ours: named by its class, never its text
                done.failed[peer_id] = exc.__class__.__name__
            else:
                done.synced[peer_id] = len(listed)
                log.info("peer_sync.synced", peer=peer_id, participants=len(listed))
                continue
            log.warning("peer_sync.failed", peer=peer_id, reason=done.failed[peer_id])
        return done


class PeerSyncer:
    """Runs `sync_all_peers` every `interval` seconds as a task of the hub's workers (started by
    `hub.api.app` when `HUB_PEER_SYNC_SECONDS` is not 0); the first round one interval after start."""

    def __init__(
        self, pool: asyncpg.Pool, session: aiohttp.ClientSession, hub_id: str, clock: Clock, interval: float
    ) -> None:
        self._pool, self._session, self._hub_id, self._clock = pool, session, hub_id, clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await sync_all_peers(self._pool, self._session, self._hub_id, self._clock)
            except Exception as exc:  # the database down: the next round tries again, the hub goes on
                log.warning("peer_sync.round_failed", error=exc.__class__.__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _extending_heads(
    conn: Conn, session: aiohttp.ClientSession, base: str, feed: Feed, wait_seconds: float, *, forget: bool
) -> list[Seen]:
    """The peer's tree heads this feed shows and the one kept, each checked to extend the one before
    by the peer's consistency proof (`GET /v1/directory/consistency`): a peer that comes back with a
    rewritten history (or shows this hub another log than its participants see) fails here. LogAlarm."""
    keys = [k for k in await directory.keys_of(conn, feed.issuer) if k.use == "sig"]
    kept_text = None if forget else await directory.peer_checkpoint_of(conn, feed.issuer)
    # the kept head was checked when it was kept; the key that signed it may have been revoked since
    every = {k.kid: PublicJwk.from_dict(k.jwk) for k in keys}
    kept = None if kept_text is None else read_checkpoint(kept_text, every, feed.issuer)
    current = {k.kid: every[k.kid] for k in keys if k.revoked_at is None}
    heads = feed_heads(feed, current, kept)
    shown = feed_heads(feed, current, None)
    if kept is not None and shown and shown[-1].tree_size < kept.tree_size:  # a log only grows
        raise FeedError(
            f"it is older than the last one taken (its log's head has {shown[-1].tree_size} entries, "
            f"the last one's {kept.tree_size}): a replayed feed"
        )
    for before, after in itertools.pairwise(heads):
        proof: list[str] = []
        if before.tree_size != after.tree_size:
            path = f"{CONSISTENCY_PATH}?first={before.tree_size}&second={after.tree_size}"
            answer = await _fetch(session, base + path, feed.issuer, wait_seconds)
            try:
                proof = [str(p) for p in json.loads(answer)["proof"]]
            except (ValueError, KeyError, TypeError):
                raise LogAlarm("its consistency proof is not a consistency proof") from None
        check_advance(before, after, proof)
    return heads


async def _fetch(session: aiohttp.ClientSession, url: str, peer_id: str, wait_seconds: float) -> str:
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=wait_seconds), allow_redirects=False
        ) as response:
            body = await response.content.read(MAX_FEED_BYTES + 1)
            if response.status != 200:
                raise PeerSyncError(f"the peer hub '{peer_id}' answered HTTP {response.status} for its feed")
    except TimeoutError:
        raise PeerSyncError(f"the peer hub '{peer_id}' did not answer in {wait_seconds:g} s") from None
    except aiohttp.ClientError as exc:
        raise PeerSyncError(f"cannot reach the peer hub '{peer_id}': {exc.__class__.__name__}") from None
    if len(body) > MAX_FEED_BYTES:
        raise PeerSyncError(f"the feed of '{peer_id}' is larger than {MAX_FEED_BYTES} bytes")
    try:
        return body.decode("ascii")  # a compact JWS is base64url and dots
    except UnicodeDecodeError:
        raise PeerSyncError(
            f"the peer hub '{peer_id}' answered something that is not a compact JWS"
        ) from None
