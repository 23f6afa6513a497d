"""Reading what the transparency figures and the DSA export are made of (queries in `stats.sql`).

The only message content read is a takedown request's `category` and, for the DSA export, a
platform's own status updates with the referral they answer: both parsed from the stored signed form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import asyncpg

from hub.core.jose import JoseError, parse_jws
from hub.stats.dsa import StatusUpdateRecord
from hub.stats.figures import Period, RecipientReferral, StatsRows, compute
from hub.store.case_keys import Keyring, ShreddedError
from hub.store.database import Conn
from hub.store.queries import query


def signed_payload(signed_form: bytes) -> dict[str, Any]:
    """The JSON payload of a stored signed message (already verified when it was accepted)."""
    try:
        payload = json.loads(parse_jws(bytes(signed_form)).payload)
    except (JoseError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


async def load_rows(conn: Conn | asyncpg.Pool, viewer: str | None, period: Period) -> StatsRows:
    args = (viewer, period.start_at, period.end_at)
    referrals = [
        RecipientReferral(
            message_id=str(row["message_id"]),
            message_type=row["message_type"],
            recipient=row["recipient_id"],
            country=row["country"],
            state=row["state"],
            told_at=row["told_at"] or row["accepted_at"],
            acknowledged_at=row["acknowledged_at"],
            decided_at=row["decided_at"],
        )
        for row in await conn.fetch(query("stats_referral_recipients"), *args)
    ]
    forms = await conn.fetch(query("stats_takedown_forms"), *args)
    matches = await conn.fetch(query("stats_signal_outcomes"), *args)
    return StatsRows(
        referrals=referrals,
        categories={str(row["id"]): row["category"] or "unknown" for row in forms},
        messages_by_type={
            row["message_type"]: row["n"] for row in await conn.fetch(query("stats_messages_by_type"), *args)
        },
        act_deadlines={
            row["jurisdiction"]: (row["met"], row["breached"])
            for row in await conn.fetch(query("stats_act_deadlines"), *args)
        },
        escalations={
            row["jurisdiction"]: (row["breaches"], row["reminders"])
            for row in await conn.fetch(query("stats_escalations"), *args)
        },
        deliveries={
            row["channel"]: (row["n"], row["dead"])
            for row in await conn.fetch(query("stats_deliveries"), *args)
        },
        signal_outcomes={row["outcome"]: row["n"] for row in matches if row["outcome"] != ""},
        located_copies=sum(row["located"] for row in matches),
    )


async def figures_for(conn: Conn | asyncpg.Pool, viewer: str | None, period: Period) -> dict[str, Any]:
    """The figures over every case (viewer None) or over the viewer's part of its cases."""
    rows = await load_rows(conn, viewer, period)
    return compute(rows, period, scope="all-cases" if viewer is None else "own-cases")


def _body(
    stored: bytes | None, encrypted: bool, wrapped: bytes | None, keyring: Keyring | None
) -> Mapping[str, Any]:
    """A message's body, opened with its case key; empty once the case was purged."""
    try:
        form = bytes(stored) if keyring is None and stored is not None else None
        if keyring is not None:
            form = keyring.open(wrapped, stored, encrypted)
    except ShreddedError:
        return {}
    body = signed_payload(form).get("body") if form is not None else None
    return body if isinstance(body, dict) else {}


async def platform_status_updates(
    conn: Conn | asyncpg.Pool, platform: str, period: Period, keyring: Keyring | None = None
) -> list[StatusUpdateRecord]:
    rows = await conn.fetch(query("dsa_status_updates"), platform, period.start_at, period.end_at)
    return [
        StatusUpdateRecord(
            message_id=str(row["id"]),
            accepted_at=row["accepted_at"],
            body=_body(row["signed_form"], row["form_encrypted"], row["wrapped_key"], keyring),
            referral_accepted_at=row["referral_accepted_at"],
            referral_body=_body(row["referral_form"], row["referral_encrypted"], row["wrapped_key"], keyring),
            notifier_trusted_flagger=row["trusted_flagger"],
            jurisdictions=tuple(row["jurisdictions"]),
        )
        for row in rows
    ]
