"""The options every participant command shares (`send`, `inbox`, ..., `console`): key, identity, hub URL.

Its own module so that the commands' grammars need not import `hub.cli.main`, which imports them.
"""

from __future__ import annotations

import argparse
import os


def participant_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", required=True, help="your Ed25519 private JWK file")
    parser.add_argument("--as", dest="as_", required=True, metavar="ID", help="your participant id")
    parser.add_argument(
        "--hub",
        default=os.environ.get("HUB_URL", "http://127.0.0.1:8080"),
        help="the hub's URL (default: $HUB_URL, else http://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--trust-store",
        metavar="FILE",
        help="the peers' identities you pinned and the hub's log checkpoint you saw, kept between runs "
        "(default: $HUB_TRUST_STORE, else ~/.local/state/hub/trust.json)",
    )
