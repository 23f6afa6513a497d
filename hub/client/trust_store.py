"""What a client remembers between runs of one hub (issue 18): the identity it pinned for each peer
(`hub.core.pins`) and the largest checkpoint of the hub's audit log it has seen (`hub.core.log_watch`).

One JSON file per user, by default `$HUB_TRUST_STORE` or `~/.local/state/hub/trust.json`, holding a
section per hub id; it is written whole to a temporary file and renamed, so a run that dies leaves the
previous state. It holds no key material and nothing about cases: participant ids, epochs, key
thumbprints and signed tree heads, all of them public.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from hub.core.log_watch import Seen
from hub.core.pins import Identity


class TrustStoreError(Exception):
    """The file exists but is not a trust store."""


def default_path() -> Path:
    given = os.environ.get("HUB_TRUST_STORE")
    if given:
        return Path(given)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "hub" / "trust.json"


def open_store(given: str | None) -> TrustStore:
    """The trust store at `given`, else at `default_path()`."""
    return TrustStore(Path(given) if given else default_path())


class TrustStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, Any] = {"version": 1, "hubs": {}}
        if path.exists():
            try:
                data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise TrustStoreError(f"{path} is not a trust store: {exc.__class__.__name__}") from None
            if not isinstance(data, dict) or not isinstance(data.get("hubs"), dict):
                raise TrustStoreError(f"{path} is not a trust store: no 'hubs' section")
            self._data = data

    def _hub(self, hub_id: str) -> dict[str, Any]:
        section: dict[str, Any] = self._data["hubs"].setdefault(hub_id, {"peers": {}, "checkpoint": None})
        section.setdefault("peers", {})
        return section

    def pinned(self, hub_id: str, participant_id: str) -> Identity | None:
        kept = self._hub(hub_id)["peers"].get(participant_id)
        return None if kept is None else Identity.from_json(kept)

    def pin(self, hub_id: str, participant_id: str, identity: Identity) -> None:
        """Remember `identity` for the peer (on first use, or once a person accepted a reset)."""
        self._hub(hub_id)["peers"][participant_id] = {**identity.to_json(), "pinned_at": int(time.time())}
        self.save()

    def checkpoint(self, hub_id: str) -> Seen | None:
        kept = self._hub(hub_id).get("checkpoint")
        return None if not kept else Seen.from_json(kept)

    def keep_checkpoint(self, hub_id: str, seen: Seen) -> None:
        """Remember `seen` if it is larger than the checkpoint kept (the caller checked it extends it)."""
        kept = self.checkpoint(hub_id)
        if kept is None or seen.tree_size > kept.tree_size:
            self._hub(hub_id)["checkpoint"] = seen.to_json()
            self.save()

    def save(self) -> None:
        write_json_atomically(self.path, self._data)


def write_json_atomically(path: Path, data: object) -> None:
    """`data` as JSON in `path`, written whole to a temporary file and renamed: a reader sees the old file
    or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(temporary, path)
