"""The whole-bundle benchmark at a tiny size, to keep it working: a real case's entries spread over a
grown log, the bundle exported and verified against the hub's key (no timing is asserted)."""

from __future__ import annotations

import uuid

from bench.evidence_bundle import measure, real_case
from hub.core.hub_identity import HubIdentity
from hub.core.jose import PrivateSigningJwk
from hub.store.case_keys import Keyring


async def test_the_bundle_benchmark_exports_a_bundle_that_verifies(database_url: str) -> None:
    identity = HubIdentity("bench-hub", PrivateSigningJwk.generate())
    keyring = Keyring(uuid.uuid4().bytes + uuid.uuid4().bytes)
    case_id = await real_case(database_url, identity, keyring)
    figures = await measure(database_url, 300, case_id, identity, keyring, repeat=1)
    assert figures["audit_entries"] == 300
    assert figures["case_entries"] >= 4  # opened, accepted, queued, acknowledged at least
    assert figures["verified"], figures["faults"]
