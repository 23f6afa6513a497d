"""The hub's own Python CPU per referral, step by step, with no database and no network.

`python -m bench.hot_path` takes one realistic referral of the load benchmark (`bench.common`) through
the pure-CPU steps intake and the HTTP layer do for it, each timed by itself in a loop (CPU time of
this process, best of `--repeat`), so a change to one of them can be measured without the noise of a
loaded machine. The steps are those the py-spy profile of `bench.load` names (docs/performance.md,
step 21.9); the database statements and the sockets are not here. `--only NAME` runs one step (for
`valgrind --tool=callgrind`, whose instruction count does not depend on the machine's load).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog.contextvars

from bench.common import Platform, signed_referral
from hub.api.metrics import _accepted_type
from hub.api.routes.messages import accepted_response
from hub.core.clock import utc_now
from hub.core.content_url import request_urls, url_digests
from hub.core.evidence import sign_delivery_evidence
from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk, issue_token, sha256_hex, verify_signature
from hub.core.receipt import sign_receipt
from hub.core.sealing import check_sealed_copies, sealed_values
from hub.core.signals import plan_signals
from hub.schemas import load_catalog
from hub.services.intake import parse_submission, payload_object, validated_envelope


def steps() -> dict[str, Callable[[], Any]]:
    hotline = "de-hotline-bench"
    hotline_key = PrivateSigningJwk.generate(f"{hotline}-sig")
    enc = PrivateEncryptionJwk.generate("ie-platform-0-enc").public()
    platform = Platform("ie-platform-0", "media0.example.com", enc)
    _, raw = signed_referral(hotline, hotline_key, platform, 1)
    hub_key = PrivateSigningJwk.generate("bench-hub-sig")
    catalog = load_catalog()
    jws = parse_submission(raw)
    payload = payload_object(jws)
    env = validated_envelope(catalog, payload)
    public = hotline_key.public()
    now = utc_now()
    case_id = uuid.uuid4()
    receipt = sign_receipt(
        hub_key,
        hub_id="bench-hub",
        message_id=env.id,
        message_type=env.type,
        sender=env.sender,
        recipients=env.to,
        case_id=case_id,
        payload_sha256=sha256_hex(jws.payload),
        accepted_at=now,
    )
    current = {platform.id: enc.kid}
    url_key = b"k" * 32

    def parse() -> object:
        parsed = parse_submission(raw)
        return payload_object(parsed), sha256_hex(parsed.payload)

    def sealed() -> None:  # what intake's _check_sealed does, the directory's keys apart
        found = list(sealed_values(env.body, "/body"))
        if found:
            check_sealed_copies(found, current)

    def answer() -> object:
        return _accepted_type(accepted_response(receipt))  # type: ignore[arg-type]

    def request_id() -> None:  # what request_id_middleware does around the handler
        bound = structlog.contextvars.bind_contextvars(request_id=os.urandom(16).hex())
        structlog.contextvars.reset_contextvars(**bound)

    return {
        "parse": parse,
        "verify": lambda: verify_signature(jws, jws.signatures[0], public),
        "validate": lambda: validated_envelope(catalog, payload),
        "sealed": sealed,
        "receipt": lambda: sign_receipt(
            hub_key,
            hub_id="bench-hub",
            message_id=env.id,
            message_type=env.type,
            sender=env.sender,
            recipients=env.to,
            case_id=case_id,
            payload_sha256=sha256_hex(jws.payload),
            accepted_at=now,
        ),
        "answer": answer,
        "token": lambda: issue_token(hub_key, issuer="bench-hub", audience=platform.id, now=int(time.time())),
        "evidence": lambda: sign_delivery_evidence(
            hub_key,
            hub_id="bench-hub",
            message_id=env.id,
            payload_sha256=sha256_hex(jws.payload),
            recipient=platform.id,
            delivered_at=now,
            channel="push",
            attempt=1,
            http_status=200,
        ),
        "signals": lambda: plan_signals(env, {platform.id: "platform"}, ()),
        "url_digests": lambda: url_digests(url_key, request_urls(env.type, env.body)),
        "request_id": request_id,
    }


def measure(step: Callable[[], Any], iterations: int, repeat: int) -> float:
    """Best CPU microseconds per call over `repeat` loops of `iterations`."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time_ns()
        for _ in range(iterations):
            step()
        best = min(best, (time.process_time_ns() - started) / iterations / 1000)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hot_path", description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="run only this step (e.g. under valgrind)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    table = steps()
    if args.only:
        table = {args.only: table[args.only]}
    figures = {name: measure(step, args.iterations, args.repeat) for name, step in table.items()}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for name, us in figures.items():
            print(f"{name:<12} {us:8.1f} us")
        print(f"{'total':<12} {sum(figures.values()):8.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
