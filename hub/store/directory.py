"""The directory: participants and their public keys (several per participant, each with a validity
window, and revocable). A key's `kid` is unique across the directory, because a JWS header names
only the kid."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from hub.core.jose import sha256_hex
from hub.store import audit
from hub.store.database import Conn
from hub.store.queries import query

PARTICIPANT_KINDS = ("hotline", "platform", "regulator", "law-enforcement", "support-service", "hub")
# A participant of kind `hub` is a peer hub (docs/federation.md): its id is the peer's HUB_ID, its key the
# peer's hub key, its endpoint the peer's base URL. The hub's own entry has that kind too (its own id).


class DirectoryError(Exception):
    """A directory change the hub refuses (duplicate id or kid, unknown participant or key)."""


@dataclass(frozen=True)
class Participant:
    id: str
    name: str
    kind: str
    country: str
    endpoint: str | None
    accepts: tuple[str, ...]
    created_at: datetime
    domains: tuple[str, ...] = ()
    trusted_flagger: bool = False
    adapter: str = "pull"
    adapter_config: dict[str, Any] = field(default_factory=dict)
    hash_signals: bool = False  # opted in to the hash signals of referrals not addressed to it
    contact_email: str | None = None  # its directory contact (told when its destination is parked)
    home_hub: str | None = None  # the peer hub whose feed vouches for it (docs/federation.md); None: ours

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Participant:
        return cls(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            country=row["country"],
            endpoint=row["endpoint"],
            accepts=tuple(row["accepts"]),
            created_at=row["created_at"],
            domains=tuple(row["domains"]),
            trusted_flagger=row["trusted_flagger"],
            adapter=row["adapter"],
            adapter_config=dict(row["adapter_config"]),
            hash_signals=row["hash_signals"],
            contact_email=row["contact_email"],
            home_hub=row.get("home_hub"),
        )


@dataclass(frozen=True)
class KeyRecord:
    kid: str
    participant_id: str
    use: str
    jwk: dict[str, Any]
    not_before: datetime
    not_after: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    seq: int = 0  # the order keys were added in
    origin: str = "legacy"  # registration | binding | reset | legacy (see migration 0018)
    binding: str | None = None  # the participant's signed binding (origin 'binding')
    epoch: int = 0  # the participant's identity: one more after each reset

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> KeyRecord:
        return cls(**dict(row.items()))

    def problem_at(self, moment: datetime) -> str | None:
        """Why this key cannot be used at `moment`, or None if it can."""
        if self.revoked_at is not None and self.revoked_at <= moment:
            return "revoked"
        if moment < self.not_before:
            return "not yet valid"
        if self.not_after is not None and moment >= self.not_after:
            return "expired"
        return None


_PARTICIPANT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


def check_participant_fields(
    participant_id: str, name: str, kind: str, country: str, endpoint: str | None
) -> None:
    """Refuse, with a clear reason, what the database constraints would refuse."""
    if not _PARTICIPANT_ID.match(participant_id):
        raise DirectoryError(
            "participant id must be 2-63 characters of a-z, 0-9, '.', '_', '-', starting alnum"
        )
    if not 1 <= len(name) <= 200:
        raise DirectoryError("participant name must be 1-200 characters")
    if kind not in PARTICIPANT_KINDS:
        raise DirectoryError(f"participant kind must be one of {', '.join(PARTICIPANT_KINDS)}")
    if kind == "hub" and endpoint is None:
        raise DirectoryError("a peer hub is registered with its endpoint (its base URL, https://...)")
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise DirectoryError("country must be an ISO 3166-1 alpha-2 code such as DE")
    check_endpoint(endpoint)


def check_endpoint(endpoint: str | None) -> None:
    if endpoint is not None and not re.match(r"^https?://[^\s/]+", endpoint):
        raise DirectoryError("endpoint must be an http(s) URL")


async def add_participant(
    conn: Conn,
    *,
    participant_id: str,
    name: str,
    kind: str,
    country: str,
    endpoint: str | None,
    accepts: Sequence[str],
    domains: Sequence[str] = (),
    trusted_flagger: bool = False,
    adapter: str | None = None,
    adapter_config: dict[str, Any] | None = None,
    hash_signals: bool = False,
    contact_email: str | None = None,
) -> None:
    """Register a participant. `adapter` defaults to webhook with an endpoint, else pull; the caller
    validates `adapter_config` with the adapter's own config class."""
    check_participant_fields(participant_id, name, kind, country, endpoint)
    clean = check_domains(domains)
    await _check_domains_free(conn, clean, participant_id)
    try:
        await conn.execute(
            query("insert_participant"),
            participant_id,
            name,
            kind,
            country,
            endpoint,
            list(accepts),
            clean,
            trusted_flagger,
            adapter,
            adapter_config,
            hash_signals,
            contact_email,
        )
    except asyncpg.UniqueViolationError:
        raise DirectoryError(f"participant '{participant_id}' already exists") from None
    except asyncpg.CheckViolationError as exc:
        raise DirectoryError(f"invalid participant: {exc.constraint_name}") from None
    await _logged(
        conn,
        "participant.added",
        "operator",
        participant_id,
        detail={
            "kind": kind,
            "country": country,
            "adapter": adapter or ("webhook" if endpoint else "pull"),
            "hash_signals": hash_signals,
            "contact_email": contact_email is not None,  # whether one is registered, never the address
        },
    )


_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")


def check_domains(domains: Sequence[str]) -> list[str]:
    """Registered domains, lower-cased; a platform serves a domain and all its subdomains."""
    clean = sorted({d.strip().rstrip(".").lower() for d in domains})
    for domain in clean:
        if not _DOMAIN.match(domain) or len(domain) > 253:
            raise DirectoryError(f"not a domain name: {domain!r} (e.g. photos.example.com)")
    return clean


async def _check_domains_free(conn: Conn, domains: Sequence[str], participant_id: str) -> None:
    """One domain, one platform: routing by content must never be ambiguous by registration."""
    taken = await conn.fetch(query("domain_owners"), list(domains), participant_id)
    if taken:
        owner = taken[0]
        raise DirectoryError(f"domain {owner['domain']} is already registered to '{owner['id']}'")


async def update_participant(
    conn: Conn,
    participant_id: str,
    *,
    add_domains: Sequence[str] = (),
    remove_domains: Sequence[str] = (),
    trusted_flagger: bool | None = None,
    endpoint: str | None = None,
    clear_endpoint: bool = False,
    accepts: Sequence[str] | None = None,
    adapter: str | None = None,
    adapter_config: dict[str, Any] | None = None,
    hash_signals: bool | None = None,
    contact_email: str | None = None,
    clear_contact_email: bool = False,
) -> None:
    added = check_domains(add_domains)
    await _check_domains_free(conn, added, participant_id)
    check_endpoint(endpoint)
    changed = await conn.fetchval(
        query("update_participant"),
        participant_id,
        added,
        check_domains(remove_domains),
        trusted_flagger,
        endpoint is not None or clear_endpoint,
        endpoint,
        None if accepts is None else list(accepts),
        adapter,
        adapter_config,
        hash_signals,
        contact_email is not None or clear_contact_email,
        contact_email,
    )
    if changed is None:
        raise DirectoryError(f"no participant '{participant_id}'")
    await _logged(
        conn,
        "participant.updated",
        "operator",
        participant_id,
        detail={
            "add_domains": list(added),
            "remove_domains": list(remove_domains),
            "trusted_flagger": trusted_flagger,
            "adapter": adapter,
            "endpoint_changed": endpoint is not None or clear_endpoint,
            "hash_signals": hash_signals,
            "contact_email_changed": contact_email is not None or clear_contact_email,
        },
    )


async def add_key(
    conn: Conn,
    *,
    participant_id: str,
    jwk: dict[str, Any],
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    binding: str | None = None,
) -> None:
    """Add a key. Without `binding` only the participant's first signing key (its registration, after
    the operator checked its fingerprint); every later key comes with the binding its participant
    signed, which `hub.services.bindings` verified."""
    participant = await get_participant(conn, participant_id)
    if participant is None:
        raise DirectoryError(f"no participant '{participant_id}'")
    epoch = await participant_epoch(conn, participant_id)
    origin = "binding" if binding is not None else "registration"
    if binding is None and participant.kind != "hub":
        if jwk["use"] != "sig":
            raise DirectoryError(
                "a participant is registered with its signing key; its encryption key comes with a "
                "binding it signs (hub keys bind)"
            )
        if await keys_of(conn, participant_id):
            raise DirectoryError(
                f"'{participant_id}' already has its registered key: a further key is added only with a "
                "binding its participant signs (hub keys bind), or after a reset (hub participants reset)"
            )
    try:
        await conn.execute(
            query("insert_key"),
            jwk["kid"],
            participant_id,
            jwk["use"],
            jwk,
            not_before,
            not_after,
            origin,
            binding,
            epoch,
        )
    except asyncpg.UniqueViolationError:
        raise DirectoryError(f"a key with kid '{jwk['kid']}' is already registered") from None
    except asyncpg.CheckViolationError:
        raise DirectoryError("the key's validity window ends before it starts") from None
    await _logged(
        conn,
        "key.added",
        "operator" if binding is None else participant_id,
        participant_id,
        detail={
            "kid": jwk["kid"],
            "use": jwk["use"],
            "jwk": jwk,
            "origin": origin,
            "epoch": epoch,
            "binding": binding,
        },
    )


async def participant_epoch(conn: Conn, participant_id: str) -> int:
    """The participant's identity number (one more after each reset), its row locked for the change."""
    epoch = await conn.fetchval(query("participant_epoch"), participant_id)
    if epoch is None:
        raise DirectoryError(f"no participant '{participant_id}'")
    return int(epoch)


async def bind_existing_key(conn: Conn, *, participant_id: str, kid: str, binding: str) -> None:
    """Attach the binding a participant signed for a key it registered before bindings existed."""
    if await conn.fetchval(query("bind_existing_key"), kid, participant_id, binding) is None:
        raise DirectoryError(f"'{participant_id}' has no key '{kid}' waiting for a binding")
    await _logged(
        conn,
        "key.bound",
        participant_id,
        participant_id,
        detail={"kid": kid, "binding": binding},
    )


async def reset_participant(
    conn: Conn, *, participant_id: str, jwk: dict[str, Any], reason: str, at: datetime
) -> int:
    """A lost-key recovery: every key revoked, `jwk` the first key of a new identity (the epoch after).
    Loud on purpose: clients that knew the participant refuse it until a person confirms the reset."""
    if jwk["use"] != "sig":
        raise DirectoryError("a reset registers a signing (Ed25519) key")
    row = await conn.fetchrow(query("reset_participant"), participant_id, at)
    if row is None or row["epoch"] is None:
        raise DirectoryError(f"no participant '{participant_id}'")
    epoch = int(row["epoch"])
    try:
        await conn.execute(
            query("insert_key"), jwk["kid"], participant_id, "sig", jwk, at, None, "reset", None, epoch
        )
    except asyncpg.UniqueViolationError:
        raise DirectoryError(f"a key with kid '{jwk['kid']}' is already registered") from None
    await _logged(
        conn,
        "participant.reset",
        "operator",
        participant_id,
        at=at,
        detail={
            "kid": jwk["kid"],
            "use": "sig",
            "jwk": jwk,
            "origin": "reset",
            "epoch": epoch,
            "binding": None,
            "reason": reason,
            "revoked": list(row["revoked"]),
            "destinations_removed": list(row["destinations_removed"]),
        },
    )
    return epoch


async def set_delivery(
    conn: Conn, *, participant_id: str, delivery: dict[str, Any], delivery_sha256: str, binding: str
) -> None:
    """Deliver to the address the participant's binding names (the caller verified it)."""
    changed = await conn.fetchval(
        query("set_delivery"),
        participant_id,
        delivery["endpoint"],
        delivery["adapter"],
        delivery["adapter_config"],
        binding,
    )
    if changed is None:
        raise DirectoryError(f"no participant '{participant_id}'")
    # The log names the address by digest: an adapter's configuration may hold a mailbox address.
    await _logged(
        conn,
        "delivery.bound",
        participant_id,
        participant_id,
        detail={"delivery_sha256": delivery_sha256, "binding_sha256": sha256_hex(binding.encode())},
    )


async def delivery_of(conn: Conn | asyncpg.Pool, participant_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(query("delivery_of"), participant_id)


async def directory_entries(conn: Conn | asyncpg.Pool, participant_id: str) -> list[asyncpg.Record]:
    """The audit-log entries of this participant's directory changes, in log order."""
    return list(await conn.fetch(query("directory_entries"), participant_id))


async def revoke_key(
    conn: Conn, *, participant_id: str, kid: str, reason: str, binding: str | None = None
) -> None:
    """Revoke a key: by the operator (a compromised key must stop at once: revoking takes trust away,
    it never adds any) or by the participant's own binding."""
    if await conn.fetchval(query("revoke_key"), kid, participant_id, reason) is None:
        raise DirectoryError(f"participant '{participant_id}' has no unrevoked key '{kid}'")
    await _logged(
        conn,
        "key.revoked",
        "operator" if binding is None else participant_id,
        participant_id,
        detail={"kid": kid, "reason": reason, "binding": binding},
    )


async def ensure_hub_participant(conn: Conn, hub_id: str, public_jwk: dict[str, Any]) -> None:
    """The hub is in its own directory (kind `hub`) with its signing key, because it sends messages of
    its own (escalations). Refuses a hub id that an ordinary participant already holds."""
    async with conn.transaction():
        # Hub processes starting together on a new database register the hub once, one after the other.
        await conn.execute(query("lock_hub_registration"))
        existing = await get_participant(conn, hub_id)
        if existing is not None and existing.kind != "hub":
            raise DirectoryError(
                f"HUB_ID '{hub_id}' is the id of a registered {existing.kind}: choose another"
            )
        if existing is None:
            await conn.execute(
                query("insert_participant"),
                hub_id,
                "Referral hub",
                "hub",
                "ZZ",
                None,
                [],
                None,
                None,
                None,
                None,
                None,
                None,
            )
        if await get_key(conn, public_jwk["kid"]) is None:
            await add_key(conn, participant_id=hub_id, jwk=public_jwk)


async def get_participant(conn: Conn | asyncpg.Pool, participant_id: str) -> Participant | None:
    row = await conn.fetchrow(query("get_participant"), participant_id)
    return None if row is None else Participant.from_row(row)


async def get_participants(conn: Conn, ids: Sequence[str]) -> dict[str, Participant]:
    rows = await conn.fetch(query("get_participants"), list(ids))
    return {row["id"]: Participant.from_row(row) for row in rows}


async def list_participants(conn: Conn | asyncpg.Pool) -> list[Participant]:
    return [Participant.from_row(row) for row in await conn.fetch(query("list_participants"))]


async def get_key(conn: Conn | asyncpg.Pool, kid: str) -> KeyRecord | None:
    row = await conn.fetchrow(query("get_key"), kid)
    return None if row is None else KeyRecord.from_row(row)


async def get_keys(conn: Conn | asyncpg.Pool, kids: Sequence[str]) -> dict[str, KeyRecord]:
    rows = await conn.fetch(query("get_keys"), list(set(kids)))
    return {row["kid"]: KeyRecord.from_row(row) for row in rows}


async def keys_in_order(conn: Conn | asyncpg.Pool, kids: Sequence[str]) -> list[KeyRecord | None]:
    """`get_keys` answered in the order asked (None for a kid the directory lacks): a key-lookup batch."""
    found = await get_keys(conn, kids)
    return [found.get(kid) for kid in kids]


async def keys_of(conn: Conn | asyncpg.Pool, participant_id: str) -> list[KeyRecord]:
    return [KeyRecord.from_row(row) for row in await conn.fetch(query("keys_of_participant"), participant_id)]


async def encryption_keys_of(conn: Conn | asyncpg.Pool, ids: Sequence[str]) -> dict[str, list[KeyRecord]]:
    """The X25519 keys of these participants, every one the directory holds (valid or not)."""
    found: dict[str, list[KeyRecord]] = {i: [] for i in ids}
    for row in await conn.fetch(query("encryption_keys_of"), list(set(ids))):
        found[row["participant_id"]].append(KeyRecord.from_row(row))
    return found


async def _logged(
    conn: Conn, event: str, actor: str, subject: str, *, detail: dict[str, Any], at: datetime | None = None
) -> None:
    """Write a change of the directory into the audit log, as it happens (now, unless `at` is given)."""
    await audit.append(
        conn, at=at or datetime.now(UTC), event=event, actor=actor, subject=subject, detail=detail
    )


async def upsert_federated(conn: Conn, global_id: str, entry: Mapping[str, Any], home_hub: str) -> str | None:
    """A peer's participant as its feed names it; None if the id is taken by one not of that peer."""
    try:
        found = await conn.fetchval(
            query("upsert_federated_participant"),
            global_id,
            str(entry["name"])[:200],
            str(entry["kind"]),
            str(entry["country"]),
            [str(a) for a in entry["accepts"]],
            home_hub,
        )
    except (asyncpg.CheckViolationError, asyncpg.ForeignKeyViolationError) as exc:
        raise DirectoryError(f"invalid participant in the feed: {exc.constraint_name}") from None
    return None if found is None else str(found)


async def add_mirrored_key(
    conn: Conn, participant_id: str, key: Mapping[str, Any], home_hub: str, at: datetime
) -> None:
    """A key of a peer's participant, from the peer's feed, under the participant's epoch on its home
    hub; its binding goes in the audit log (and the home hub's log proof of it stays with the entry)."""
    jwk = dict(key["jwk"])
    epoch = key.get("epoch")
    epoch = epoch if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0 else 0
    try:
        await conn.execute(
            query("insert_key"), jwk["kid"], participant_id, jwk["use"], jwk, at, None, "feed", None, epoch
        )
    except asyncpg.UniqueViolationError:
        raise DirectoryError(f"a key with kid '{jwk['kid']}' is already registered") from None
    await audit.append(
        conn,
        at=at,
        event="key.added",
        actor=home_hub,
        subject=participant_id,
        detail={
            "kid": jwk["kid"],
            "use": jwk["use"],
            "jwk": jwk,
            "origin": "feed",
            "epoch": epoch,
            "binding": key.get("binding"),
        },
    )


async def revoke_keys_not_in(conn: Conn, participant_id: str, kids: Sequence[str], reason: str) -> list[str]:
    rows = await conn.fetch(query("revoke_keys_not_in"), participant_id, list(kids), reason)
    return [row["kid"] for row in rows]


async def federated_participants_of(conn: Conn, home_hub: str) -> list[str]:
    return [row["id"] for row in await conn.fetch(query("federated_participants_of"), home_hub)]


async def set_home_proof(conn: Conn, participant_id: str, proof: Mapping[str, Any] | None) -> None:
    """Keep the home hub's log proof of a mirrored participant's keys (hub/core/home_chain.py)."""
    await conn.execute(query("set_home_proof"), participant_id, None if proof is None else dict(proof))


async def home_proofs_of(conn: Conn | asyncpg.Pool, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The home proofs kept for those of these participants that are mirrored from a peer hub."""
    return {row["id"]: row["home_proof"] for row in await conn.fetch(query("home_proofs_of"), list(ids))}


async def peer_checkpoint_of(conn: Conn, peer_id: str) -> str | None:
    """The largest checkpoint of the peer hub's log this hub has seen (docs/federation.md, section 3)."""
    found = await conn.fetchval(query("peer_checkpoint_of"), peer_id)
    return None if found is None else str(found)


async def set_peer_checkpoint(conn: Conn, peer_id: str, checkpoint: str) -> None:
    await conn.execute(query("set_peer_checkpoint"), peer_id, checkpoint)


async def peer_log_alarm_of(conn: Conn | asyncpg.Pool, peer_id: str) -> str | None:
    """Why this hub no longer takes the peer's word (its log was found rewritten), or None."""
    found = await conn.fetchval(query("peer_log_alarm_of"), peer_id)
    return None if found is None else str(found)


async def set_peer_log_alarm(conn: Conn, peer_id: str, alarm: str | None) -> None:
    await conn.execute(query("set_peer_log_alarm"), peer_id, alarm)


async def peer_hubs(conn: Conn | asyncpg.Pool, hub_id: str) -> list[str]:
    """The ids of the peer hubs registered here (kind `hub`), this hub's own entry left out."""
    return [row["id"] for row in await conn.fetch(query("peer_hubs"), hub_id)]


async def try_peer_sync_lock(conn: Conn) -> bool:
    """The periodic peer sync's lock, held until the caller's transaction ends; False if another
    process holds it."""
    return bool(await conn.fetchval(query("peer_sync_lock")))
