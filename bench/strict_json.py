"""What the strict JSON profile (hub/core/inputs.py) costs on the intake's hot path.

    python -m bench.strict_json [--number 20000] [--repeat 7]

Times, per call (best of --repeat runs of --number calls), the parse of the three JSON texts every
submission or request carries: the largest published referral example as a payload (4 KB), a JWS
protected header and a bearer token's claims, with Python's plain ``json.loads`` beside it (what the
payload and request bodies were read with before issue 14, findings 7 and 8). No database, no server.
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.core import inputs

EXAMPLE = Path(__file__).resolve().parent.parent / "schemas/takedown-request/examples/valid/full.json"
HEADER = b'{"alg":"EdDSA","kid":"de-hotline-test-sig-0a1b2c","typ":"JWT"}'
CLAIMS = (
    b'{"iss":"de-hotline-test","aud":"test-hub","iat":1764780000,"exp":1764780120,'
    b'"jti":"0b5e0d2c-6f63-4a59-9d0c-2a6f0f4e8f11"}'
)


def best_microseconds(call: Callable[[], Any], number: int, repeat: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    payload = EXAMPLE.read_bytes()
    texts = {f"payload ({len(payload)} B)": payload, "protected header": HEADER, "token claims": CLAIMS}
    print(f"{'text':24} {'json.loads':>12} {'inputs.loads':>13} {'extra':>8}")
    for name, text in texts.items():
        plain = best_microseconds(lambda t=text: json.loads(t), args.number, args.repeat)  # type: ignore[misc]
        strict = best_microseconds(lambda t=text: inputs.loads(t), args.number, args.repeat)  # type: ignore[misc]
        print(f"{name:24} {plain:9.2f} us {strict:10.2f} us {strict - plain:+6.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
