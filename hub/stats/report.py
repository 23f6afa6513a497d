"""The transparency report as one self-contained HTML page, rendered on the server.

Big-number tiles first, then a chart for each question a reader asks (what happened to the referrals,
how fast recipients acted, how often they kept the legal deadline), each with the same figures as a
table beside it, then the remaining figures as tables. Headings structure the page; every chart has a
text alternative (see `charts`). No script and nothing loaded from elsewhere, so the page can be saved,
mailed or printed as it is. It shows what `figures.compute` returns, which holds no personal data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any

from hub.core.clock import rfc3339
from hub.stats.charts import Series, column_bars, share_bars, stacked_bars
from hub.stats.figures import ACTION_BUCKETS, OUTCOMES

OUTCOME_SERIES = (
    Series("actioned", "#009E73"),
    Series("declined", "#D55E00"),
    Series("withdrawn", "#CC79A7"),
    Series("open", "#56B4E9"),
)
BLUE = "#0072B2"
STYLE = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#1f2933;background:#f5f7fa}
header{background:#102a43;color:#fff;padding:28px 48px 24px}
header h1{margin:0 0 4px;font-size:28px;font-weight:650}
header p{margin:0;color:#bcccdc}
main{max-width:1180px;margin:0 auto;padding:20px 48px 40px}
h2{font-size:20px;margin:0 0 12px}
section{background:#fff;border-radius:10px;padding:20px 24px;margin:18px 0;
box-shadow:0 1px 3px rgba(16,42,67,.12)}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(128px,1fr));gap:12px;
list-style:none;margin:0;padding:0}
.tile{background:#f0f4f8;border-radius:8px;padding:14px 16px}
.tile .value{display:block;font-size:30px;font-weight:700;color:#102a43;white-space:nowrap}
.tile .label{color:#52606d;font-size:13px}
.pair{display:grid;grid-template-columns:minmax(0,1.15fr) minmax(0,1fr);gap:28px;align-items:start}
figure{margin:0}
figcaption{color:#52606d;font-size:13px;margin-top:6px}
svg.chart{width:100%;height:auto;font-family:inherit}
table{border-collapse:collapse;width:100%;font-size:14px}
caption{text-align:left;font-weight:600;padding-bottom:6px}
th,td{padding:5px 7px;border-bottom:1px solid #e4e7eb;text-align:left}
thead th{color:#52606d;font-weight:600;font-size:13px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody th,td.num{white-space:nowrap}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:20px 28px;
align-items:start}
.scroll{overflow-x:auto}
footer{color:#52606d;font-size:13px;max-width:1180px;margin:0 auto;padding:0 48px 32px}
@media (max-width:800px){.pair{grid-template-columns:1fr}main,header,footer{padding-left:16px;
padding-right:16px}}
"""


def hours(value: float | None) -> str:
    return "\N{EM DASH}" if value is None else f"{value:.1f} h".replace(".0 h", " h")


def percent(value: float | None) -> str:
    return "\N{EM DASH}" if value is None else f"{value * 100:.0f} %"


def _table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(
        f'<th scope="col"{" class=num" if i else ""}>{escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = (
        "".join(
            f'<tr><th scope="row">{escape(str(row[0]))}</th>'
            + "".join(f'<td class="num">{escape(str(cell))}</td>' for cell in row[1:])
            + "</tr>"
            for row in rows
        )
        or f'<tr><td colspan="{len(headers)}">No data in this period.</td></tr>'
    )
    return (
        f"<table><caption>{escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _section(key: str, title: str, content: str) -> str:
    return f'<section aria-labelledby="h-{key}"><h2 id="h-{key}">{escape(title)}</h2>{content}</section>'


def _pair(chart: str, caption: str, table: str) -> str:
    figure = f"<figure>{chart}<figcaption>{escape(caption)}</figcaption></figure>"
    return f'<div class="pair">{figure}<div class="scroll">{table}</div></div>'


def _tiles(f: Mapping[str, Any]) -> str:
    outcomes = f["referrals"]["by_outcome"]
    decided = outcomes["actioned"] + outcomes["declined"]
    tiles = [
        (str(f["referrals"]["recipient_referrals"]), "referrals to recipients"),
        (percent(outcomes["actioned"] / decided if decided else None), "of decisions were removals"),
        (hours(f["response_times"]["acknowledgement"]["median_hours"]), "median time to acknowledge"),
        (hours(f["response_times"]["action"]["median_hours"]), "median time to act"),
        (percent(f["deadlines"]["act_within_deadline"]["share"]), "acted within the legal deadline"),
        (str(f["escalations"]["breaches"]), "deadlines breached"),
        (str(f["deliveries"]["dead_letters"]), "undeliverable messages"),
    ]
    items = "".join(
        f'<li class="tile"><span class="value">{escape(v)}</span>'
        f'<span class="label">{escape(label)}</span></li>'
        for v, label in tiles
    )
    return _section("summary", "At a glance", f'<ul class="tiles">{items}</ul>')


def _outcomes(f: Mapping[str, Any]) -> str:
    per = f["referrals"]["outcomes_by_recipient"]
    rows = [(recipient, [counts[o] for o in OUTCOMES]) for recipient, counts in per.items()]
    chart = stacked_bars("outcomes", "Outcome of referrals per recipient", rows, OUTCOME_SERIES)
    table = _table(
        "Outcomes per recipient",
        ["Recipient", *[o.capitalize() for o in OUTCOMES], "Total"],
        [(r, *values, sum(values)) for r, values in rows],
    )
    caption = "Each bar is one recipient; its parts count referrals by what the recipient decided."
    return _section("outcomes", "What happened to the referrals", _pair(chart, caption, table))


def _speed(f: Mapping[str, Any]) -> str:
    action = f["response_times"]["action"]
    ack = f["response_times"]["acknowledgement"]
    columns = [(label, action["distribution"][key]) for key, label, _ in ACTION_BUCKETS]
    chart = column_bars("speed", "Time from referral to decision", columns, BLUE)
    recipients = sorted(set(ack["by_recipient"]) | set(action["by_recipient"]))
    empty = {"median_hours": None, "p90_hours": None}
    rows = [
        (
            "All recipients",
            hours(ack["median_hours"]),
            hours(ack["p90_hours"]),
            hours(action["median_hours"]),
            hours(action["p90_hours"]),
        )
    ]
    for r in recipients:
        a, d = ack["by_recipient"].get(r, empty), action["by_recipient"].get(r, empty)
        rows.append(
            (
                r,
                hours(a["median_hours"]),
                hours(a["p90_hours"]),
                hours(d["median_hours"]),
                hours(d["p90_hours"]),
            )
        )
    table = _table(
        "Hours from being told to acknowledging and to deciding",
        ["Recipient", "Ack. median", "Ack. p90", "Decision median", "Decision p90"],
        rows,
    )
    caption = "How many decisions (actioned or declined) came within each time band of the referral."
    return _section("speed", "How fast recipients acted", _pair(chart, caption, table))


def _deadlines(f: Mapping[str, Any]) -> str:
    per = f["deadlines"]["act_within_deadline"]["by_jurisdiction"]
    rows = [
        (j, v["share"], f"{percent(v['share'])} ({v['met']} of {v['met'] + v['breached']})")
        for j, v in per.items()
    ]
    chart = share_bars("deadlines", "Share of decisions within the legal deadline", rows, "#009E73")
    table = _table(
        "Removal deadlines per jurisdiction",
        ["Jurisdiction", "Met", "Breached", "Share met"],
        [(j, v["met"], v["breached"], percent(v["share"])) for j, v in per.items()],
    )
    caption = "Settled removal ('act') deadlines met in time, per jurisdiction whose law set them."
    return _section("deadlines", "Legal deadlines kept", _pair(chart, caption, table))


def _more(f: Mapping[str, Any]) -> str:
    refs, esc, dlv = f["referrals"], f["escalations"], f["deliveries"]
    tables = [
        _table("Messages by type", ["Type", "Count"], list(f["messages"]["by_type"].items())),
        _table("Referrals by recipient country", ["Country", "Count"], list(refs["by_country"].items())),
        _table("Referrals by category", ["Category", "Count"], list(refs["by_category"].items())),
        _table(
            "Escalations by jurisdiction",
            ["Jurisdiction", "Breaches", "Reminders"],
            [(j, v["breaches"], v["reminders"]) for j, v in esc["by_jurisdiction"].items()],
        ),
        _table(
            "Deliveries by channel",
            ["Channel", "Count"],
            [*dlv["by_channel"].items(), ("dead letters", dlv["dead_letters"])],
        ),
    ]
    return _section("more", "All figures", '<div class="grid">' + "".join(tables) + "</div>")


def _day(text: str) -> str:
    moment = date.fromisoformat(text)
    return f"{moment.day} {moment:%B %Y}"


def render_report(figures: Mapping[str, Any], *, generated_at: datetime) -> str:
    period = figures["period"]
    scope = "all cases" if period["scope"] == "all-cases" else "the cases you are a party to"
    last = (date.fromisoformat(period["to"]) - timedelta(days=1)).isoformat()
    span = f"{_day(period['from'])} to {_day(last)}"
    made = generated_at.astimezone(UTC)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Transparency report, {escape(span)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>Transparency report</h1><p>Referrals received {escape(span)}, over {escape(scope)}. "
        f'Generated <time datetime="{escape(rfc3339(made))}">{made.day} {made:%B %Y, %H:%M} UTC</time>.'
        "</p></header><main>"
        + _tiles(figures)
        + _outcomes(figures)
        + _speed(figures)
        + _deadlines(figures)
        + _more(figures)
        + "</main><footer><p>Counts and organisation identifiers only: no names, addresses, URLs or "
        "message texts. Times run from when a recipient was told to its first acknowledgement or "
        "decision; p90 is the 90th percentile, interpolated between ranks.</p></footer></body></html>"
    )
