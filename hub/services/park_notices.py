"""Issue 16.9: a parked destination is told so at its directory contact (`participants.contact_email`),
through the notices' mail path (`adapters.email.send_mail`), once per parking whatever the number of
deliveries it holds and of hub processes: the delivery worker asks each round, the store hands each
parking out once (`destinations.park_notice_for`). A notice that cannot be sent now (the mail server
down) is handed out again after `RETRY_AFTER`; one refused for good is not. The address is never logged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import structlog

from adapters.email import send_mail
from adapters.email_render import languages, render_parking_notice
from hub.core.clock import Clock
from hub.core.delivery_outcome import Verdict
from hub.settings import MailSettings
from hub.store import deliveries
from hub.store.deliveries import ParkNotice

log = structlog.get_logger("hub.delivery")
RETRY_AFTER = timedelta(minutes=1)


class ParkNotices:
    def __init__(self, pool: asyncpg.Pool, settings: MailSettings, clock: Clock) -> None:
        self._pool, self._settings, self._clock = pool, settings, clock
        self._not_before: dict[str, datetime] = {}  # destination: when to try a failed notice again

    async def send_due(self) -> int:
        """Tell each newly parked destination's recipient; returns how many notices were sent."""
        now = self._clock()
        if any(at > now for at in self._not_before.values()):
            return 0  # a notice failed a moment ago: the mail server gets a pause
        sent = 0
        for notice in await deliveries.claim_park_notices(self._pool):
            sent += await self._tell(notice)
        return sent

    async def _tell(self, notice: ParkNotice) -> int:
        bound = log.bind(recipient=notice.destination)
        if notice.contact_email is None:
            bound.warning("delivery.park_notice_skipped", reason="no contact address in the directory")
            return 0
        language = notice.language if notice.language in languages() else "en"
        try:
            mail = render_parking_notice(
                notice.destination,
                notice.parked_at,
                notice.reason,
                notice.refusals,
                notice.held,
                notice.contact_email,
                language or "en",
                self._settings,
                self._clock(),
            )
            outcome = await send_mail(self._settings, mail, self._settings.smtp_password())
        except Exception as exc:  # a template or password-file fault: logged, tried again later
            bound.warning("delivery.park_notice_failed", error=exc.__class__.__name__)
            await self._later(notice)
            return 0
        if outcome.verdict is Verdict.DELIVERED:
            self._not_before.pop(notice.destination, None)
            bound.info("delivery.park_notice_sent", held=notice.held)
            return 1
        bound.warning("delivery.park_notice_failed", outcome=str(outcome.verdict), detail=outcome.detail)
        if outcome.verdict is not Verdict.PERMANENT:
            await self._later(notice)
        return 0

    async def _later(self, notice: ParkNotice) -> None:
        self._not_before[notice.destination] = self._clock() + RETRY_AFTER
        await deliveries.release_park_notice(self._pool, notice)
