"""Readable tables for the commands a person reads (`participants list`, `inbox`, `status` of a case or
of all one's cases); `--json`
prints the same data as JSON for scripts. Only what the command already returned is shown: a table never
fetches or reveals more than the JSON would."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d(\.\d+)?)?Z")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell, a header line, and one line per row; '-' for an empty cell."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = [list(headers), *cells]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _cell(value: object) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str) and (time := _TIME.fullmatch(value)):
        return f"{time[1]} {time[2]} UTC"  # to the minute (the hub keeps UTC); --json has the exact time
    return " ".join(str(value).split())  # one line per row, whatever a value holds


def participants_table(participants: Sequence[Mapping[str, Any]]) -> str:
    rows = [(p["id"], p["kind"], p["country"], p.get("accepts")) for p in participants]
    return table(("ID", "KIND", "COUNTRY", "ACCEPTS"), rows) if rows else "no participants"


def inbox_table(page: Mapping[str, Any]) -> str:
    messages = page.get("messages", [])
    if not messages:
        return "nothing in your inbox"
    rows = [
        (
            m["accepted_at"],
            m["type"],
            m["from"],
            m["case_id"],
            m["message_id"],
            "yes" if m.get("verified") else f"NO: {m.get('verification_error', '')}",
        )
        for m in messages
    ]
    text = table(("ACCEPTED", "TYPE", "FROM", "CASE", "MESSAGE", "VERIFIED"), rows)
    opened = [m for m in messages if m.get("opened") or m.get("not_opened")]
    if opened:
        text += (
            "\n\nsealed values are shown with --json (opened for you: "
            + ", ".join(
                f"{m['message_id']} {len(m.get('opened', {}))} opened, {len(m.get('not_opened', {}))} not"
                for m in opened
            )
            + ")"
        )
    if page.get("cursor"):
        text += f"\n\nread on with --cursor {page['cursor']}"
    return text


def case_table(case: Mapping[str, Any]) -> str:
    head = [
        f"case {case['case_id']} ({case['case_type']}), opened by {case['opened_by']}"
        f" at {_cell(case['opened_at'])}",
        f"status: {case['status']}{', OVERDUE' if case.get('overdue') else ''}; you are: {case['your_role']}",
    ]
    recipients = [(r["participant_id"], r["state"], r["since"]) for r in case.get("recipients", [])]
    clocks = [
        (d["deadline"], who, d["state"], d["due_at"], d["overdue"], d["jurisdiction"])
        for who, deadlines in [(r["participant_id"], r["deadlines"]) for r in case.get("recipients", [])]
        + [(case["opened_by"], case.get("deadlines_owed_by_originator", []))]
        for d in deadlines
    ]
    events = [(e["at"], _said(e)) for e in case.get("timeline", [])]
    parts = ["\n".join(head)]
    if recipients:
        parts.append(table(("RECIPIENT", "STATE", "SINCE"), recipients))
    if clocks:
        parts.append(table(("DEADLINE", "OWED BY", "STATE", "DUE", "OVERDUE", "JURISDICTION"), clocks))
    if case.get("shared_with"):
        shares = [(s["participant_id"], s["shared_by"], s["shared_at"]) for s in case["shared_with"]]
        parts.append(table(("SHARED WITH", "BY", "AT"), shares))
    if events:
        parts.append(table(("AT", "WHAT HAPPENED"), events))
    return "\n\n".join(parts)


def case_list_table(listing: Mapping[str, Any]) -> str:
    cases = listing.get("cases", [])
    rows = [
        (
            c["case_id"],
            c["case_type"],
            c["opened_at"],
            c.get("your_role"),
            c["status"],
            f"{c['next_due']['deadline']} by {_cell(c['next_due']['due_at'])}" if c.get("next_due") else None,
            c["overdue"],
        )
        for c in cases
    ]
    text = (
        table(("CASE", "TYPE", "OPENED", "YOU ARE", "STATE", "NEXT DUE", "OVERDUE"), rows)
        if rows
        else "no cases"
    )
    if listing.get("due_today") is not None:
        text += f"\n\ndue today (UTC): {listing['due_today']}"
    if listing.get("next_cursor"):
        text += f"\n\nread on with --cursor {listing['next_cursor']}"
    return text


def _said(event: Mapping[str, Any]) -> str:
    """A timeline event as the console says it: who did what to whom (`hub.console.timeline`)."""
    from hub.console.timeline import timeline_line  # the console's words; loaded only for a case table

    line = timeline_line(event, "")
    if event.get("due_at") and str(event.get("event", "")).startswith("deadline."):
        line += f", due {_minute(str(event['due_at']))}"
    return line


def _minute(moment: str) -> str:
    """Any RFC 3339 time (a `Z` or an offset, as the timeline's details carry them) to the minute, in UTC."""
    try:
        return (
            datetime.fromisoformat(moment.replace("Z", "+00:00"))
            .astimezone(UTC)
            .strftime("%Y-%m-%d %H:%M UTC")
        )
    except ValueError:
        return moment
