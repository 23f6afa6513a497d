"""Reading the gauges of `GET /metrics` (queries in `metrics.sql`): counts over the whole hub, by state,
channel and organisation id only. "Overdue" is `hub/core/overdue.py`'s rule, computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.store.database import Conn
from hub.store.queries import query

# Seconds from acceptance to the recipient having the message: 1 s ... 48 h (the longest legal clock).
# The query's bucket bounds (`metrics_delivery_latency`) are these.
DELIVERY_BUCKETS = (1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0, 48 * 3600.0)


@dataclass(frozen=True)
class Latency:
    cumulative: list[float]  # deliveries within each of DELIVERY_BUCKETS
    count: float
    total: float  # seconds


@dataclass(frozen=True)
class Gauges:
    deliveries: dict[tuple[str, str], int]  # (state, channel)
    push_queues: dict[str, int]  # destination: pending pushes
    parked: dict[str, int]  # parked destination: deliveries it holds
    open_deadlines: int
    breached_deadlines: int
    overdue_deadlines: int
    escalations: int
    latency: dict[str, Latency]  # by channel


async def read_gauges(conn: Conn, now: datetime) -> Gauges:
    """Every gauge, one query each; overdue as at `now`."""
    deliveries = await conn.fetch(query("metrics_deliveries"))
    queues = await conn.fetch(query("metrics_push_queues"))
    parked = await conn.fetch(query("metrics_parked_destinations"))
    (deadlines,) = await conn.fetch(query("metrics_deadlines"), now)  # an aggregate: always one row
    escalations = await conn.fetchval(query("metrics_escalations"))
    latencies = await conn.fetch(query("metrics_delivery_latency"))
    return Gauges(
        deliveries={(r["state"], r["channel"]): r["n"] for r in deliveries},
        push_queues={r["recipient_id"]: r["n"] for r in queues},
        parked={r["participant_id"]: r["n"] for r in parked},
        open_deadlines=deadlines["open"],
        breached_deadlines=deadlines["breached"],
        overdue_deadlines=deadlines["overdue"],
        escalations=escalations,
        latency={
            r["channel"]: Latency(
                [float(r[f"b{i}"]) for i in range(len(DELIVERY_BUCKETS))], float(r["n"]), float(r["total"])
            )
            for r in latencies
        },
    )
