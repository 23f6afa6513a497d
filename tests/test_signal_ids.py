"""A signal's id is uuid5(SIGNAL_NAMESPACE, "<message id>/<item>/<alg>/<value>") (`hub.core.signals`),
however `plan_signals` computes it: the same hash of the same request always gets the same id."""

from __future__ import annotations

import uuid

from hub.core.envelope import Envelope
from hub.core.signals import SIGNAL_NAMESPACE, plan_signals, signal_id


def test_plan_signals_gives_each_hash_its_uuid5_id() -> None:
    message_id = uuid.uuid4()
    body = {
        "content": [
            {"url": "https://a.example/1", "hashes": [{"alg": "sha256", "value": "ab" * 32}]},
            {"url": "https://a.example/2", "hashes": [{"alg": "pdq", "value": "cd" * 32}]},
        ]
    }
    envelope = Envelope.from_payload(
        {
            "id": str(message_id),
            "type": "takedown-request",
            "version": "1.0",
            "from": "de-hotline",
            "to": ["ie-platform"],
            "created_at": "2026-12-04T00:00:00Z",
            "body": body,
        }
    )
    plan = plan_signals(envelope, {"ie-platform": "platform"}, ())
    assert plan is not None
    assert [s.id for s in plan.signals] == [
        uuid.uuid5(SIGNAL_NAMESPACE, f"{message_id}/0/sha256/{'ab' * 32}"),
        uuid.uuid5(SIGNAL_NAMESPACE, f"{message_id}/1/pdq/{'cd' * 32}"),
    ]
    assert all(s.id == signal_id(message_id, s.item, s.alg, s.value) for s in plan.signals)
    assert [(c.signal_id, c.platform) for c in plan.copies] == [(s.id, "ie-platform") for s in plan.signals]
