"""Inline SVG bar charts for the HTML report: no script, no external resource.

Each chart is an `<svg role="img">` whose `<title>` names it and whose `<desc>` states every value it
draws, so a screen reader gets the chart's content as text; the report also puts a data table beside
every chart. Colours are the Okabe-Ito palette, distinguishable with the common colour-vision
deficiencies, and every bar carries its value as text, so no figure depends on colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 560
LABEL_WIDTH = 130
BAR_HEIGHT = 26
GAP = 14
INK = "#1f2933"
MUTED = "#52606d"
TRACK = "#e4e7eb"


@dataclass(frozen=True)
class Series:
    label: str
    colour: str


def _svg(chart_id: str, title: str, desc: str, height: int, body: str) -> str:
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>{body}</svg>'
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK, size: int = 13) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}" '
        f'dominant-baseline="middle">{escape(text)}</text>'
    )


def _legend(series: Sequence[Series], y: float) -> str:
    parts, x = [], float(LABEL_WIDTH)
    for s in series:
        parts.append(f'<rect x="{x:.1f}" y="{y - 6:.1f}" width="12" height="12" rx="2" fill="{s.colour}"/>')
        parts.append(_text(x + 18, y, s.label, fill=MUTED, size=12))
        x += 30 + 7.5 * len(s.label)
    return "".join(parts)


def stacked_bars(
    chart_id: str, title: str, rows: Sequence[tuple[str, Sequence[int]]], series: Sequence[Series]
) -> str:
    """One horizontal bar per row, split into the series' counts, scaled to the largest total."""
    largest = max((sum(values) for _, values in rows), default=0) or 1
    span = WIDTH - LABEL_WIDTH - 50
    parts = [_legend(series, 12)]
    descriptions = []
    for i, (label, values) in enumerate(rows):
        y = 34 + i * (BAR_HEIGHT + GAP)
        parts.append(_text(LABEL_WIDTH - 10, y + BAR_HEIGHT / 2, label, anchor="end"))
        x = float(LABEL_WIDTH)
        for value, s in zip(values, series, strict=True):
            if value:
                width = span * value / largest
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" fill="{s.colour}"/>'
                )
                if width >= 18:
                    parts.append(
                        _text(x + width / 2, y + BAR_HEIGHT / 2, str(value), anchor="middle", fill="#fff")
                    )
                x += width
        parts.append(_text(x + 8, y + BAR_HEIGHT / 2, str(sum(values)), fill=MUTED))
        counts = ", ".join(f"{v} {s.label}" for v, s in zip(values, series, strict=True))
        descriptions.append(f"{label}: {counts}")
    height = 34 + max(len(rows), 1) * (BAR_HEIGHT + GAP)
    desc = "; ".join(descriptions) or "No data in this period."
    return _svg(chart_id, title, desc, height, "".join(parts) or _empty())


def column_bars(chart_id: str, title: str, columns: Sequence[tuple[str, int]], colour: str) -> str:
    """Vertical bars, one per column, with the count above each and the label below."""
    height, top, bottom = 260, 24, 40
    plot = height - top - bottom
    largest = max((value for _, value in columns), default=0) or 1
    slot = (WIDTH - 40) / max(len(columns), 1)
    parts = [
        f'<line x1="20" y1="{height - bottom}" x2="{WIDTH - 20}" y2="{height - bottom}" stroke="{MUTED}"/>'
    ]
    for i, (label, value) in enumerate(columns):
        bar = plot * value / largest
        x = 20 + i * slot + slot * 0.2
        y = height - bottom - bar
        if value:
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" height="{bar:.1f}" '
                f'fill="{colour}" rx="2"/>'
            )
        parts.append(_text(x + slot * 0.3, y - 10, str(value), anchor="middle", size=14))
        parts.append(_text(x + slot * 0.3, height - bottom + 18, label, anchor="middle", fill=MUTED, size=12))
    desc = "; ".join(f"{label}: {value}" for label, value in columns)
    return _svg(chart_id, title, desc, height, "".join(parts))


def share_bars(chart_id: str, title: str, rows: Sequence[tuple[str, float | None, str]], colour: str) -> str:
    """One bar per row on a 0 to 100 % track, with the share written after it (or "no data")."""
    span = WIDTH - LABEL_WIDTH - 120
    parts = []
    for i, (label, value, note) in enumerate(rows):
        y = 10 + i * (BAR_HEIGHT + GAP)
        parts.append(_text(LABEL_WIDTH - 10, y + BAR_HEIGHT / 2, label, anchor="end"))
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{span}" height="{BAR_HEIGHT}" fill="{TRACK}" rx="3"/>'
        )
        if value:
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y}" width="{span * value:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{colour}" rx="3"/>'
            )
        parts.append(_text(LABEL_WIDTH + span + 10, y + BAR_HEIGHT / 2, note, size=13))
    height = 10 + max(len(rows), 1) * (BAR_HEIGHT + GAP)
    desc = "; ".join(f"{label}: {note}" for label, _, note in rows) or "No data in this period."
    return _svg(chart_id, title, desc, height, "".join(parts) or _empty())


def _empty() -> str:
    return _text(WIDTH / 2, 20, "No data in this period", anchor="middle", fill=MUTED)
