"""What `hub send FILE` signed, kept beside the file (`FILE.sent.json`) so that a retry is the same message.

A time-out after the hub committed a referral must not become a second case when the sender runs the
command again. The ids of the parts are fixed by the file's content (`hub.client.fanout`), but sealing is
randomised and a file may leave `created_at` out, so the signed form itself is kept, written before it is
first submitted: the retry submits the same bytes and the hub answers with the first receipt. The record
belongs to one content of the file (its SHA-256): an edited file is a new referral. It holds ciphertext and
signatures, no plaintext the file does not already hold, and is written with the file's own permissions
at most (mode 0600).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from hub.cli.errors import CliError


@dataclass
class SentFile:
    path: Path
    file_sha256: str
    forms: dict[str, str] = field(default_factory=dict)

    @classmethod
    def beside(cls, source: Path, file_sha256: str) -> SentFile:
        path = source.with_name(source.name + ".sent.json")
        try:
            kept = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls(path, file_sha256)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CliError(f"{path} is not a record of what was sent: {exc.__class__.__name__}") from None
        if not isinstance(kept, dict) or kept.get("file_sha256") != file_sha256:
            return cls(path, file_sha256)  # the file changed since: a new referral
        return cls(path, file_sha256, {str(k): str(v) for k, v in dict(kept.get("signed", {})).items()})

    def signed(self, part_id: str) -> str | None:
        return self.forms.get(part_id)

    def keep(self, part_id: str, signed: str) -> None:
        self.forms[part_id] = signed
        record = {"file_sha256": self.file_sha256, "signed": self.forms}
        temporary = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(record, out, indent=2)
        os.replace(temporary, self.path)
