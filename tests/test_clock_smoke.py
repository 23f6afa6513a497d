"""A US takedown request against a controllable clock: reminder, breach, late answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hub.api.app import create_app
from hub.api.keys import INTAKE, POOL
from hub.clocks.worker import ClockWorker
from hub.services.issuer import Issuer
from tests.factories import jose, removal, takedown


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def ts(self) -> int:
        return int(self.now.timestamp())


async def test_us_clock_reminds_breaches_and_records_a_late_answer(
    aiohttp_client: Any, settings: Any, directory: Any
) -> None:
    hotline = await directory.add("us-hotline-test", "hotline", "US")
    platform = await directory.add("us-platform-test", "platform", "US")
    regulator = await directory.add("us-regulator-test", "regulator", "US")
    clock = FakeClock()
    app = create_app(settings, clock=clock, background=False)
    client = await aiohttp_client(app)
    clocks = ClockWorker(app[POOL], Issuer(app[INTAKE]), clock)
    request = takedown(hotline, platform, jurisdictions=["US"])
    response = await client.post("/v1/messages", **jose(hotline.sign(request)))
    receipt = await response.json()
    assert response.status == 202, receipt
    case_id = receipt["case_id"]

    clock.now += timedelta(hours=36, minutes=1)  # past the 12-hour reminder of the 48-hour clock
    assert await clocks.run_once() == 2  # the acknowledgement clock's reminders and the act clock's
    clock.now += timedelta(hours=12)  # past 48 hours
    fired = await clocks.run_once()
    assert fired >= 1
    assert await clocks.run_once() == 0  # nothing fires twice

    case = await (await client.get(f"/v1/cases/{case_id}", headers=hotline.auth(now=clock.ts()))).json()
    act = next(d for d in case["recipients"][0]["deadlines"] if d["deadline"] == "act")
    assert act["state"] == "breached"
    assert act["rule"] == "us-take-it-down-removal"
    assert case["overdue"] is True
    regulator_inbox = await (await client.get("/v1/inbox", headers=regulator.auth(now=clock.ts()))).json()
    assert [m["type"] for m in regulator_inbox["messages"]] == ["escalation"]

    late = removal(platform, hotline, case_id, request["id"])
    assert (await client.post("/v1/messages", **jose(platform.sign(late)))).status == 202
    case = await (await client.get(f"/v1/cases/{case_id}", headers=hotline.auth(now=clock.ts()))).json()
    act = next(d for d in case["recipients"][0]["deadlines"] if d["deadline"] == "act")
    assert act["state"] == "breached"
    assert "answered_late_at" in act
    assert case["status"] == "actioned"
