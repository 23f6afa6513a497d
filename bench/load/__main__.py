"""`python -m bench.load`: the hub under load against the raw ceiling of its own PostgreSQL.

    python -m bench.load        # 1,000 warm-up, 10,000 closed loop, open loop at 25/50/75 % of its rate
    python -m bench.load --referrals 100000 --json out.json   # the RSS figure
    python -m bench.load --rates 200,500 --database-url postgresql://...

Prints a summary table and, with --json, writes every figure (and the machine) to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bench.load.broker import DEFAULT_URL as DEFAULT_BROKER_URL
from bench.load.run import LoadBench, Options, parse_env, parse_rates, summary_table


def parse_args(argv: list[str] | None = None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--referrals", type=int, default=10_000, help="closed-loop referrals")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop workers")
    parser.add_argument("--rates", type=parse_rates, default=(), help="open-loop rates/s, comma-separated")
    parser.add_argument("--open-seconds", type=float, default=10.0, help="length of each open-loop run")
    parser.add_argument("--fixed-interval", action="store_true", help="open loop without Poisson arrivals")
    parser.add_argument("--warmup", type=int, default=1_000, help="referrals before measuring")
    parser.add_argument("--platforms", type=int, default=4)
    parser.add_argument("--hub-processes", type=int, default=1)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: embedded, throwaway)")
    parser.add_argument("--raw-seconds", type=float, default=10.0)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--hub-env", action="append", default=[], help="HUB_NAME=value for hub serve")
    parser.add_argument(
        "--strace-referrals", type=int, default=1_000, help="referrals counted under strace (0: none)"
    )
    parser.add_argument(
        "--drain-referrals",
        type=int,
        default=4_000,
        help="queued with no push worker, then drained by hub worker alone (0: none)",
    )
    parser.add_argument("--broker-url", default=DEFAULT_BROKER_URL, help="a RabbitMQ for the peer figure")
    parser.add_argument("--json", type=Path, help="write all figures to this file")
    args = parser.parse_args(argv)
    options = Options(
        referrals=args.referrals,
        concurrency=args.concurrency,
        rates=args.rates,
        open_seconds=args.open_seconds,
        poisson=not args.fixed_interval,
        warmup=args.warmup,
        platforms=args.platforms,
        hub_processes=args.hub_processes,
        database_url=args.database_url,
        raw_seconds=args.raw_seconds,
        drain_timeout=args.drain_timeout,
        hub_env=parse_env(args.hub_env),
        strace_referrals=args.strace_referrals,
        broker_url=args.broker_url,
        drain_referrals=args.drain_referrals,
    )
    return options, args.json


def main(argv: list[str] | None = None) -> int:
    options, out = parse_args(argv)
    figures = asyncio.run(LoadBench(options).run())
    print(summary_table(figures))
    if out is not None:
        out.write_text(json.dumps(figures, indent=2) + "\n")
    totals = figures["totals"]
    return 0 if totals["lost"] == 0 and totals["accepted"] == totals["submitted"] else 1


if __name__ == "__main__":
    sys.exit(main())
