"""The console's own record: every signed message it sent or took from the inbox, with the hub's receipt.

Marking an inbox message retrieved takes it out of the hub's inbox, so before the console does that it
keeps the message here, exactly as signed, with the hub's receipt: the reviewer can still read the
referral afterwards, and the organisation holds its own proof (`evidence` bundles it per case). What is
kept is the signed form only: sealed values stay sealed, plaintext is never written.

Layout: `<data dir>/messages/<case id>/<message id>.json`, directories 0700, files 0600, written
atomically. Ids are checked to be UUIDs before they become file names.

Read or not: a received message is unread until its case page was shown to someone of the organisation
(the console is one per organisation, so this is the organisation's unread state, as in a shared
mailbox). Reading leaves an empty marker `<message id>.read` beside it: a marker is written once and
never changed, so two pages open at once cannot undo each other.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_LISTED = 2000  # received messages the inbox lists, newest first (its pages hold 25 each)


class ArchiveError(Exception):
    """The archive folder cannot be used."""


@dataclass(frozen=True)
class Kept:
    direction: str  # "sent" or "received"
    message_id: str
    case_id: str
    message_type: str
    sender: str
    accepted_at: str
    message: str  # the exact signed form
    receipt: str  # the hub's receipt, a compact JWS
    verified: bool
    # What it is (`hub.core.attestation.provenance`): "signed by <sender>", or "answered by e-mail from
    # <address>, attested by the hub"; empty in messages kept before the console recorded it.
    provenance: str = ""


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError):
        raise ArchiveError("not a message or case id") from None


class Archive:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "messages"
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.root.mkdir(exist_ok=True, mode=0o700)
            os.chmod(self.root, 0o700)
        except OSError as exc:
            raise ArchiveError(f"cannot use {data_dir}: {exc.strerror or exc.__class__.__name__}") from None

    def keep(self, kept: Kept) -> bool:
        """Store a message; False if it was already kept (the first copy stays)."""
        folder = self.root / _uuid(kept.case_id)
        path = folder / f"{_uuid(kept.message_id)}.json"
        if path.exists():
            return False
        folder.mkdir(exist_ok=True, mode=0o700)
        temporary = folder / f".{path.name}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(kept), handle)
        os.replace(temporary, path)
        return True

    def of_case(self, case_id: str) -> list[Kept]:
        folder = self.root / _uuid(case_id)
        return sorted(self._read(folder), key=lambda k: k.accepted_at)

    def get(self, case_id: str, message_id: str) -> Kept | None:
        path = self.root / _uuid(case_id) / f"{_uuid(message_id)}.json"
        return next(iter(self._load(path)), None)

    def sent(self, message_id: str) -> Kept | None:
        """The message of this id this console sent, if it holds one (in whichever case)."""
        name = f"{_uuid(message_id)}.json"
        for folder in self._folders():
            for kept in self._load(folder / name):
                if kept.direction == "sent":
                    return kept
        return None

    def sent_of_type(self, message_type: str) -> list[Kept]:
        """Every message of this type this console sent."""
        return [
            k
            for folder in self._folders()
            for k in self._read(folder)
            if k.direction == "sent" and k.message_type == message_type
        ]

    def received(self, limit: int = MAX_LISTED) -> list[Kept]:
        """The messages taken from the inbox, newest first."""
        found = [k for folder in self._folders() for k in self._read(folder) if k.direction == "received"]
        found.sort(key=lambda k: k.accepted_at, reverse=True)
        return found[:limit]

    def every(self) -> list[Kept]:
        """Every message held, sent or received."""
        return [k for folder in self._folders() for k in self._read(folder)]

    def mark_read(self, case_id: str, message_ids: list[str]) -> None:
        """Note that these received messages of the case were shown (their case page was opened)."""
        folder = self.root / _uuid(case_id)
        for message_id in message_ids:
            marker = folder / f"{_uuid(message_id)}.read"
            if folder.is_dir() and not marker.exists():
                os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600))

    def read_ids(self) -> set[str]:
        """The ids of the received messages that were shown."""
        return {p.stem for p in self.root.glob("*/*.read")}

    def unread(self) -> list[Kept]:
        """The received messages not shown yet, newest first."""
        shown = self.read_ids()
        return [k for k in self.received() if k.message_id not in shown]

    def _folders(self) -> Iterator[Path]:
        with contextlib.suppress(FileNotFoundError):
            yield from (p for p in self.root.iterdir() if p.is_dir())

    def _read(self, folder: Path) -> Iterator[Kept]:
        if folder.is_dir():
            for path in folder.glob("*.json"):
                yield from self._load(path)

    @staticmethod
    def _load(path: Path) -> Iterator[Kept]:
        try:
            data: dict[str, Any] = json.loads(path.read_text("utf-8"))
            yield Kept(**data)
        except (OSError, ValueError, TypeError):
            return
