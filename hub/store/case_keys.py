"""Per-case data keys: created with the case, unwrapped to read its messages, destroyed at purge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from uuid import UUID

from hub.core.content_url import digest_key
from hub.core.vault import VaultError, new_key, open_with, seal_with, unwrap, wrap
from hub.store.database import Conn
from hub.store.queries import query


class ShreddedError(Exception):
    """The case's key was destroyed at purge: its messages can no longer be read."""


@dataclass(frozen=True)
class Keyring:
    """The hub's storage key (from its file, never from the database), and the key of the content-URL
    digests derived from it (`hub.core.content_url`)."""

    storage_key: bytes

    @cached_property
    def content_url_key(self) -> bytes:
        return digest_key(self.storage_key)

    def open(self, wrapped: bytes | None, stored: bytes | None, encrypted: bool) -> bytes:
        """A stored form as written: decrypted with the case key when it was stored encrypted."""
        if stored is None:
            raise ShreddedError("this message was purged")
        if not encrypted:
            return bytes(stored)
        if wrapped is None:
            raise ShreddedError("this case's key was destroyed at purge")
        try:
            return open_with(unwrap(self.storage_key, bytes(wrapped)), bytes(stored))
        except VaultError:
            raise ShreddedError("this message does not open with its case key") from None


async def case_key(
    conn: Conn, keyring: Keyring, case_id: UUID, at: datetime, wrapped: bytes | None = None
) -> bytes:
    """The case's data key, created on first use (`wrapped`: as the caller read it already)."""
    if wrapped is None:
        wrapped = await conn.fetchval(query("get_case_key"), case_id)
    if wrapped is None:
        key = new_key()
        await conn.execute(query("insert_case_key"), case_id, wrap(keyring.storage_key, key), at)
        wrapped = await conn.fetchval(query("get_case_key"), case_id)
        if wrapped is None:
            raise ShreddedError("this case's key was destroyed at purge")
    return unwrap(keyring.storage_key, bytes(wrapped))


async def encrypt_for_case(
    conn: Conn, keyring: Keyring, case_id: UUID, data: bytes, at: datetime, wrapped: bytes | None = None
) -> bytes:
    return seal_with(await case_key(conn, keyring, case_id, at, wrapped), data)
