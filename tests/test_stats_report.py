"""The HTML transparency report: well-formed, with the seeded figures, a titled and described SVG and a
table for every chart, headings, no personal data; served with a policy that forbids scripts; and
rendered by a real headless Chromium (`bench/screenshot_report.py`) into a PNG that is not blank."""

from __future__ import annotations

import asyncio
import struct
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from bench.screenshot_report import find_browser
from hub.settings import Settings
from tests.factories import Directory, Member
from tests.test_stats import PERIOD, World, build_world, secrets_of, seed

VOID = {"meta", "br", "img", "input", "link", "hr"}
ROOT = Path(__file__).resolve().parent.parent


class Page(HTMLParser):
    """Checks that tags nest and close, and collects what the assertions look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.faults: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "h2"):
            self._heading = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.faults.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag in ("h1", "h2") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)

    def count(self, tag: str) -> int:
        return sum(1 for t, _ in self.tags if t == tag)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    assert (page.faults, page.stack) == ([], [])
    return page


@pytest_asyncio.fixture
async def world(
    settings: Settings, db: asyncpg.Connection, directory: Directory, aiohttp_client: Any
) -> World:
    built = await build_world(settings, directory, aiohttp_client)
    await seed(built)
    return built


async def report_of(world: World, member: Member) -> str:
    response = await world.api.client.get(
        f"/v1/stats/report.html?{PERIOD}", headers=member.auth(now=world.clock.ts())
    )
    assert response.status == 200, await response.text()
    assert response.content_type == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    return await response.text()


async def test_the_report_shows_the_figures_with_a_chart_and_a_table_each(world: World) -> None:
    html = await report_of(world, world.regulator)
    page = parse(html)
    text = " ".join(" ".join(page.text).split())
    assert page.headings[0] == "Transparency report"
    assert {
        "At a glance",
        "What happened to the referrals",
        "How fast recipients acted",
        "Legal deadlines kept",
        "All figures",
    } <= set(page.headings)

    svgs = [attrs for tag, attrs in page.tags if tag == "svg"]
    assert len(svgs) == 3
    for attrs in svgs:
        assert attrs["role"] == "img"
        title, desc = str(attrs["aria-labelledby"]).split()
        assert ("title", {"id": title}) in page.tags
        assert ("desc", {"id": desc}) in page.tags
    assert page.count("table") == 3 + 5
    assert page.count("caption") == page.count("table")
    assert page.count("script") == 0
    assert "<link" not in html
    assert "src=" not in html

    # The seeded answers (tests/test_stats.py): tiles, the alt texts and tables.
    for shown in (
        "4 referrals to recipients",
        "67 % of decisions were removals",
        "2 h median time to acknowledge",
        "30 h median time to act",
        "75 % acted within the legal deadline",
        "2 deadlines breached",
    ):
        assert shown in text, shown
    assert "platform-a: 1 actioned, 1 declined, 0 withdrawn, 0 open" in html
    assert "6 to 24 h: 1; 24 to 48 h: 2" in html
    assert "US: 50 % (1 of 2)" in html
    assert "EU: 100 % (2 of 2)" in html
    assert "All recipients 2 h 5.2 h 30 h 30 h" in text
    assert "platform-a 4 h 5.6 h 20 h 28 h" in text
    for secret in secrets_of(world.requests):
        assert secret not in html, secret


async def test_a_platform_s_report_shows_only_its_own_part(world: World) -> None:
    html = await report_of(world, world.a)
    parse(html)
    assert "the cases you are a party to" in html
    assert "platform-a" in html
    assert "platform-b" not in html


def png_facts(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct colours of an 8-bit, non-interlaced RGB(A) PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, chunk = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0)
    assert colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    previous, colours = bytearray(stride), set()
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                row[i] = (row[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        if y % 8 == 0:
            colours.update(bytes(row[i : i + bpp]) for i in range(0, stride, bpp * 4))
        previous = row
    return width, height, len(colours)


async def test_headless_chromium_renders_the_report(world: World, tmp_path: Path) -> None:
    if find_browser() is None:
        pytest.skip(
            "no headless browser on PATH: install Debian's package 'chromium' (apt-get install chromium)"
        )
    html = tmp_path / "report.html"
    html.write_text(await report_of(world, world.regulator), "utf-8")
    png = tmp_path / "report.png"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.screenshot_report",
        "--html",
        str(html),
        "--png",
        str(png),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, err.decode()
    assert png.exists()
    width, height, colours = await asyncio.to_thread(png_facts, png)
    assert (width, height) == (1280, 1600)
    assert colours > 10, "the screenshot is blank"
