"""An HTTP client for the hub's API. Every call carries a new single-use bearer token."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

from hub.client.envelope import new_envelope, sign_message
from hub.client.log_check import check_entry
from hub.client.sealing import seal_envelope
from hub.client.trust_store import TrustStore
from hub.core.case_reference import CaseReferenceError, parse_case_reference, the_one_match
from hub.core.directory_proof import NotYetLogged
from hub.core.global_id import home_hub_of
from hub.core.home_chain import home_jwks, signing_keys
from hub.core.jose import PrivateSigningJwk, PublicJwk, issue_token
from hub.core.key_chain import trusted_jwks
from hub.core.log_watch import LogAlarm
from hub.core.pins import apply_pin, identity_of, refuse_all

__all__ = ["CaseReferenceError", "HubClient", "HubError"]


class HubError(Exception):
    """The hub refused a request; `problem` is its RFC 9457 problem details."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}".strip())

    @property
    def code(self) -> str:
        return str(self.problem.get("type", "")).rsplit(":", 1)[-1]


class HubClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        participant_id: str,
        key: PrivateSigningJwk,
        *,
        hub_id: str | None = None,
        trust: TrustStore | None = None,
    ) -> None:
        self._session = session
        self._trust = trust
        self._base = base_url.rstrip("/")
        self.participant_id = participant_id
        self._key = key
        self._hub_id = hub_id

    async def hub_id(self) -> str:
        if self._hub_id is None:
            self._hub_id = str((await self._request("GET", "/healthz", auth=False))["hub_id"])
        return self._hub_id

    async def send(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """Sign `envelope` with this participant's key and submit it; returns the hub's receipt."""
        return await self.submit(self.sign(envelope))

    def sign(self, envelope: Mapping[str, Any]) -> str:
        """The compact JWS of `envelope` by this participant's key, as it will be submitted."""
        return sign_message(envelope, self._key)

    async def submit(self, signed_message: str) -> dict[str, Any]:
        return await self._request(
            "POST", "/v1/messages", data=signed_message.encode(), content_type="application/jose", auth=False
        )

    async def inbox(self, *, cursor: str | None = None, wait: int = 0, limit: int = 50) -> dict[str, Any]:
        params = {"limit": str(limit), "wait": str(wait)}
        if cursor:
            params["cursor"] = cursor
        return await self._request("GET", "/v1/inbox", params=params)

    async def signals(self, *, cursor: str | None = None, limit: int = 500) -> dict[str, Any]:
        """One page of this platform's hash-signal feed (`GET /v1/signals`) after the opaque `cursor`:
        `{"signals": [...], "cursor": ..., "more": bool}` (docs/wire-contract.md, "Hash signals")."""
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        return await self._request("GET", "/v1/signals", params=params)

    async def report_matches(
        self, case_id: str, originator: str, outcomes: Sequence[Mapping[str, Any]], *, note: str | None = None
    ) -> dict[str, Any]:
        """Send a match-report: the matcher's outcome for each of the case's signals this platform holds
        (`signals()` gives their ids and case); an outcome with a `location` is a located copy."""
        body: dict[str, Any] = {"outcomes": [dict(o) for o in outcomes]}
        if note is not None:
            body["note"] = note
        return await self.send(
            new_envelope("match-report", sender=self.participant_id, to=[originator], body=body, case=case_id)
        )

    async def ack(self, message_ids: Sequence[str]) -> dict[str, Any]:
        return await self._request("POST", "/v1/inbox/ack", json={"message_ids": list(message_ids)})

    async def case(self, case_id: str) -> dict[str, Any]:
        return await self._request("GET", f"/v1/cases/{case_id}")

    async def case_messages(self, case_id: str) -> list[dict[str, Any]]:
        """The case's signed messages addressed to this participant, however the hub delivered them
        (inbox, webhook or e-mail), oldest first, as inbox items: verify each before trusting it."""
        found = await self._request("GET", f"/v1/cases/{case_id}/messages")
        messages: list[dict[str, Any]] = found.get("messages", [])
        return messages

    async def resolve_case(self, reference: str) -> str:
        """The case id for a full id or for the short id the console and e-mail notices show (any
        prefix of at least SHORT_ID_MIN hex digits), looked up among the cases this participant may read
        (`GET /v1/cases`, page by page), so a prefix reveals nothing of other cases. Raises
        CaseReferenceError for no match or several (the error lists none of them)."""
        parsed = parse_case_reference(reference)
        if parsed.case_id is not None:
            return str(parsed.case_id)
        found: list[str] = []
        cursor: str | None = None
        while len(found) < 2:
            page = await self.cases(cursor=cursor, limit=200)
            found += [c["case_id"] for c in page.get("cases", []) if c["case_id"].startswith(parsed.prefix)]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return the_one_match(parsed.prefix, found)

    async def case_proofs(self, case_id: str) -> dict[str, Any]:
        """The case's audit entries this participant may see whole, with inclusion proofs."""
        return await self._request("GET", f"/v1/cases/{case_id}/proofs")

    async def cases(
        self,
        *,
        state: str | None = None,
        overdue: bool | None = None,
        country: str | None = None,
        recipient: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        sort: str | None = None,
        time_zone: str | None = None,
    ) -> dict[str, Any]:
        """The cases this participant may read (as originator, recipient or liaison), newest first; with
        `sort="due"`, those with a clock running, the soonest due first. `due_today` counts the day in
        `time_zone` (an IANA name; the hub's default is UTC)."""
        params = {"limit": str(limit)}
        if sort:
            params["sort"] = sort
        for name, value in (
            ("state", state),
            ("country", country),
            ("recipient", recipient),
            ("time_zone", time_zone),
        ):
            if value:
                params[name] = value
        if overdue is not None:
            params["overdue"] = "true" if overdue else "false"
        if cursor:
            params["cursor"] = cursor
        return await self._request("GET", "/v1/cases", params=params)

    async def cases_by_content_url(self, url: str) -> list[dict[str, Any]]:
        """The cases whose takedown requests this participant sent or got name `url` (the hub matches a
        keyed digest of it; the URL travels in the body, never in an address)."""
        found = await self._request("POST", "/v1/search/cases", json={"content_url": url})
        return [c for c in found.get("cases", []) if isinstance(c, dict)]

    async def share(self, case_id: str, participant_id: str) -> dict[str, Any]:
        return await self._request(
            "POST", f"/v1/cases/{case_id}/shares", json={"participant_id": participant_id}
        )

    async def publish_cosignature(self, cosignature: str) -> dict[str, Any]:
        """As a witness: publish this participant's cosignature of a checkpoint it checked."""
        return await self._request(
            "POST", "/v1/directory/checkpoint/cosignatures", json={"cosignature": cosignature}
        )

    async def participant(self, participant_id: str) -> dict[str, Any]:
        """The participant's directory entry, its `jwks` cut down to the keys its participant bound
        (`hub.core.key_chain`): the others are named, with the reason, in `jwks.refused`, so nothing
        here seals to or trusts a key the operator (or anyone with the database) added.

        With a trust store, the entry must also be the identity pinned for the participant (its first
        use pins it: `hub.core.pins`) and the one the hub's audit log records, under a checkpoint that
        extends the one kept (`hub.client.log_check`); else every key is refused and `jwks.alarm` says
        why. A change newer than the latest checkpoint is noted in `jwks.unlogged`, not refused.

        A participant of a peer hub (a global id, `home_hub` set) has its keys trusted only through its
        home hub (`hub.core.home_chain`): the home hub's key as this hub's directory registers the peer
        (chained, pinned and checked against this hub's log like any entry), then the home hub's own
        log proof of the participant's bindings, which this hub keeps with the mirrored entry."""
        entry = await self._request("GET", f"/v1/participants/{quote(participant_id, safe='')}", auth=False)
        if entry.get("kind") != "hub":
            hub_id = await self.hub_id()
            home = home_hub_of(participant_id) or entry.get("home_hub")
            if home is None:
                entry["jwks"] = trusted_jwks(participant_id, hub_id, entry.get("jwks", {}))
            else:
                proof, keys = entry.get("home_proof"), await self._home_hub_keys(str(home))
                entry["jwks"] = home_jwks(participant_id, entry.get("jwks", {}), proof, keys)
            if self._trust is not None:
                entry["jwks"] = await self._checked(self._trust, participant_id, hub_id, entry["jwks"])
        return entry

    async def _home_hub_keys(self, home: str) -> dict[str, PublicJwk]:
        """The signing keys of the peer hub `home` this client trusts: its entry in this hub's directory
        (kind `hub`), cut down by the same chain rule and, with a trust store, pinned and checked
        against this hub's log. None at all if this hub lists no such peer."""
        try:
            entry = await self._request("GET", f"/v1/participants/{quote(home, safe='')}", auth=False)
        except HubError as exc:
            if exc.status == 404:
                return {}
            raise
        if entry.get("kind") != "hub":
            return {}
        hub_id = await self.hub_id()
        jwks = trusted_jwks(home, hub_id, entry.get("jwks", {}))
        if self._trust is not None:
            jwks = await self._checked(self._trust, home, hub_id, jwks)
        return signing_keys(jwks)

    async def _checked(
        self, trust: TrustStore, participant_id: str, hub_id: str, jwks: dict[str, Any]
    ) -> dict[str, Any]:
        pinned = trust.pinned(hub_id, participant_id)
        jwks = apply_pin(participant_id, jwks, pinned)
        if "alarm" in jwks or not jwks["keys"]:
            return jwks

        async def get(path: str) -> dict[str, Any]:
            return await self._request("GET", path, auth=False)

        hub_keys = {k["kid"]: PublicJwk.from_dict(k) for k in (await self.hub_jwks()).get("keys", [])}
        try:
            history = await check_entry(
                get, hub_keys, hub_id, participant_id, jwks["keys"], trust.checkpoint(hub_id)
            )
        except NotYetLogged as exc:
            jwks["unlogged"] = str(exc)
        except LogAlarm as exc:
            return refuse_all(jwks, f"the hub's audit log does not back {participant_id}'s entry: {exc}")
        else:
            trust.keep_checkpoint(hub_id, history.seen)
        identity = identity_of(jwks)
        if pinned is None and identity is not None:
            trust.pin(hub_id, participant_id, identity)
        return jwks

    async def participant_log(self, participant_id: str) -> dict[str, Any]:
        """The participant's directory entries with inclusion proofs to the latest checkpoint (public)."""
        return await self._request(
            "GET", f"/v1/participants/{quote(participant_id, safe='')}/log", auth=False
        )

    async def participants(self) -> list[dict[str, Any]]:
        """The public directory (without keys: `participant` has a participant's JWK Set)."""
        listing = await self._request("GET", "/v1/participants", auth=False)
        return list(listing.get("participants", []))

    async def schema(self, message_type: str, version: str) -> dict[str, Any] | None:
        """The template the hub publishes for this type and version, or None if it has none."""
        path = f"/v1/schemas/{quote(message_type, safe='')}/{quote(version, safe='')}"
        try:
            return await self._request("GET", path, auth=False)
        except HubError as exc:
            if exc.status == 404:
                return None
            raise

    async def seal(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """`envelope` with each value marked `{"seal": ...}` sealed to every recipient's current key
        (`hub.client.sealing`); raises `SealingError` without sending anything."""
        return await seal_envelope(self, envelope)

    async def publish_binding(self, binding: str) -> dict[str, Any]:
        """Publish a binding this participant signed (`hub.core.binding`): a change to its own entry."""
        return await self._request("POST", "/v1/directory/bindings", json={"binding": binding})

    async def own_entry(self) -> dict[str, Any]:
        """This participant's own directory entry, delivery address included (`hub keys monitor`)."""
        return await self._request("GET", "/v1/directory/self")

    async def hub_jwks(self) -> dict[str, Any]:
        """The hub's published keys. With a trust store, only those the hub's own directory entry
        chains from the hub key first pinned (`hub keys rotate` binds each new key by the previous
        one): a key swapped in without that binding, or a hub reset, is refused with the reason."""
        served = await self._request("GET", "/.well-known/jwks.json", auth=False)
        if self._trust is None:
            return served
        hub_id = await self.hub_id()
        entry = await self._request("GET", f"/v1/participants/{quote(hub_id, safe='')}", auth=False)
        pinned = self._trust.pinned(hub_id, hub_id)
        chain = apply_pin(hub_id, trusted_jwks(hub_id, hub_id, entry.get("jwks", {})), pinned)
        trusted = {str(k.get("kid")) for k in chain["keys"]}
        refused = {
            str(k.get("kid")): chain["refused"].get(
                str(k.get("kid")), "not in the hub's own directory entry: not a key of this hub"
            )
            for k in served.get("keys", [])
            if str(k.get("kid")) not in trusted
        }
        identity = identity_of(chain)
        if pinned is None and identity is not None and "alarm" not in chain:
            self._trust.pin(hub_id, hub_id, identity)
        kept = [k for k in served.get("keys", []) if str(k.get("kid")) in trusted]
        return {"keys": kept, "refused": refused}

    async def _request(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        content_type: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        headers = {}
        if auth:
            token = issue_token(
                self._key, issuer=self.participant_id, audience=await self.hub_id(), now=int(time.time())
            )
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        async with self._session.request(method, self._base + path, headers=headers, **kwargs) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:  # JSONDecodeError, UnicodeDecodeError: not a hub answering
                problem = {
                    "title": "Not a hub",
                    "detail": f"{self._base} answered {response.status} without JSON",
                }
                raise HubError(response.status, problem) from None
            if response.status >= 400:
                raise HubError(response.status, body if isinstance(body, dict) else {"detail": str(body)})
            return body if isinstance(body, dict) else {"value": body}
