"""The hub's `BankLedger` (`adapters.base`): what bank adapters banked, kept in `bank_contents`.

Given to adapters in their context (`AdapterContext.bank_ledger`, `hub.api.app.adapter_context`), so that
no adapter reads the store: a retried delivery skips the items banked before it failed, and a withdrawal
delivered to the platform removes what its case banked.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from adapters.base import BankedContent
from hub.store import bank_contents


class StoredBankLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def banked(self, recipient: str, case_id: UUID) -> list[BankedContent]:
        rows = await bank_contents.banked_contents(self._pool, case_id, recipient)
        return [
            BankedContent(case_id, row["message_id"], row["item"], row["bank"], row["content_id"])
            for row in rows
        ]

    async def record(self, recipient: str, content: BankedContent, at: datetime) -> None:
        await bank_contents.record_banked(
            self._pool,
            recipient,
            content.case_id,
            content.message_id,
            content.item,
            content.bank,
            content.content_id,
            at,
        )

    async def removed(self, recipient: str, content: BankedContent, at: datetime) -> None:
        await bank_contents.mark_removed(self._pool, recipient, content.message_id, content.item, at)
