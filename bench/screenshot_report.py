"""Render the transparency report in a real headless browser and save what a person would see as a PNG.

    python -m bench.screenshot_report [--html REPORT.html] [--png OUT.png] [--size 1280,1600]

Without `--html` it renders a sample report from made-up figures (no database needed), e.g. for the
README's docs/stats-report.png; with it, a report written by `hub stats --format html --out FILE`.
The browser is Debian's `chromium` (or `chromium-browser`), run headless with a throwaway profile and
no network use of its own; the page itself loads nothing (no script, no external resource).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.stats.figures import Period, RecipientReferral, StatsRows, compute
from hub.stats.report import render_report

BROWSERS = ("chromium", "chromium-browser")
TIMEOUT = 120


def find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(
    html: Path, png: Path, *, width: int = 1280, height: int = 1600, browser: str | None = None
) -> None:
    """Open `html` in headless Chromium at width x height and write the window's pixels to `png`."""
    browser = browser or find_browser()
    if browser is None:
        raise FileNotFoundError("no chromium on PATH: install Debian's package 'chromium'")
    with tempfile.TemporaryDirectory(prefix="hub-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={png.resolve()}",
            f"--window-size={width},{height}",
            html.resolve().as_uri(),
        ]
        subprocess.run(command, check=True, timeout=TIMEOUT, capture_output=True)
    if not png.exists():
        raise RuntimeError(f"{browser} exited without writing {png}")


def sample_figures() -> dict[str, object]:
    """Figures of a made-up year: five platforms in four countries, seeded so the picture is stable."""
    rng = random.Random(2026)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    platforms = [
        ("picshare-ie", "IE", 6),
        ("clipnet-us", "US", 30),
        ("sozial-de", "DE", 14),
        ("forum-nl", "NL", 60),
        ("vidhost-gb", "GB", 20),
    ]
    referrals: list[RecipientReferral] = []
    categories: dict[str, str] = {}
    for n in range(140):
        recipient, country, typical = platforms[n % len(platforms) if n % 3 else n % 2]
        told = start + timedelta(days=rng.uniform(0, 360))
        ack = told + timedelta(hours=rng.uniform(0.5, typical / 2))
        state = rng.choices(["actioned", "declined", "withdrawn", "open"], [70, 14, 5, 11])[0]
        decided = (
            None if state in ("withdrawn", "open") else ack + timedelta(hours=rng.expovariate(1 / typical))
        )
        message = f"m{n}"
        categories[message] = rng.choices(
            ["intimate-image", "digital-forgery", "threat-to-share"], [70, 22, 8]
        )[0]
        referrals.append(
            RecipientReferral(
                message,
                "takedown-request",
                recipient,
                country,
                state,
                told,
                None if state == "open" and n % 2 else ack,
                decided,
            )
        )
    rows = StatsRows(
        referrals=referrals,
        categories=categories,
        messages_by_type={
            "takedown-request": 140,
            "acknowledgement": 121,
            "status-update": 118,
            "escalation": 23,
            "information-request": 6,
            "withdrawal": 7,
        },
        act_deadlines={"AU": (9, 1), "EU": (71, 6), "GB": (17, 4), "US": (22, 5)},
        escalations={"AU": (1, 3), "EU": (6, 12), "GB": (4, 5), "US": (5, 7)},
        deliveries={"pull": (301, 0), "push": (114, 2)},
    )
    return compute(rows, Period(start.date(), start.replace(year=2027).date()), scope="all-cases")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, help="a report written by `hub stats --format html`")
    parser.add_argument("--png", type=Path, default=Path("stats-report.png"))
    parser.add_argument("--size", default="1280,1600", help="window width,height in pixels")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split(","))
    with tempfile.TemporaryDirectory(prefix="hub-report-") as tmp:
        html = args.html
        if html is None:
            html = Path(tmp) / "report.html"
            html.write_text(render_report(sample_figures(), generated_at=datetime.now(UTC)), "utf-8")
        try:
            screenshot(html, args.png, width=width, height=height)
        except (FileNotFoundError, RuntimeError, subprocess.SubprocessError) as exc:
            print(f"screenshot_report: {exc}", file=sys.stderr)
            return 1
    print(f"wrote {args.png} ({width}x{height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
