"""Settings, read once from the environment and passed explicitly (no globals).

The contract names the variables: `HUB_DATABASE_URL` (unset: an embedded PostgreSQL under the data
directory), `HUB_DATA_DIR`, `HUB_ID` (the `aud` of participants' tokens), `HUB_HOST`, `HUB_PORT`.
`HUB_SIGNING_KEY_FILE` names the hub's own Ed25519 private JWK (default: in the data directory).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MAX_BODY_BYTES = 256 * 1024


class SettingsError(Exception):
    """An environment variable holds a value the hub cannot use."""


@dataclass(frozen=True)
class DeliverySettings:
    """Push delivery: leases, concurrency, retry budget and shutdown grace (seconds unless named)."""

    max_in_flight_per_destination: int = 4
    max_concurrency: int = 64
    lease_seconds: float = 60.0
    poll_interval: float = 1.0
    retry_base_seconds: float = 2.0
    retry_cap_seconds: float = 600.0
    retry_max_attempts: int = 30
    retry_max_age_seconds: float = 72 * 3600.0
    shutdown_grace_seconds: float = 20.0
    worker_id: str = ""  # empty: host name and process id

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DeliverySettings:
        return cls(
            max_in_flight_per_destination=_int(env, "HUB_DELIVERY_MAX_IN_FLIGHT", 4, 1, 1000),
            max_concurrency=_int(env, "HUB_DELIVERY_CONCURRENCY", 64, 1, 10000),
            lease_seconds=_float(env, "HUB_DELIVERY_LEASE_SECONDS", 60.0, 1.0, 3600.0),
            poll_interval=_float(env, "HUB_DELIVERY_POLL_SECONDS", 1.0, 0.01, 60.0),
            retry_base_seconds=_float(env, "HUB_RETRY_BASE_SECONDS", 2.0, 0.01, 3600.0),
            retry_cap_seconds=_float(env, "HUB_RETRY_CAP_SECONDS", 600.0, 0.01, 86400.0),
            retry_max_attempts=_int(env, "HUB_RETRY_MAX_ATTEMPTS", 30, 1, 10000),
            retry_max_age_seconds=_float(env, "HUB_RETRY_MAX_AGE_SECONDS", 72 * 3600.0, 1.0, 365 * 86400.0),
            shutdown_grace_seconds=_float(env, "HUB_SHUTDOWN_GRACE_SECONDS", 20.0, 0.0, 3600.0),
            worker_id=env.get("HUB_WORKER_ID", "")[:100],
        )


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    hub_id: str
    host: str
    port: int
    signing_key_file: Path
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_level: str = "info"
    delivery: DeliverySettings = field(default_factory=lambda: DeliverySettings())
    policy_dir: Path | None = None
    clock_poll_interval: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("HUB_DATA_DIR") or default_data_dir()).expanduser()
        key_file = env.get("HUB_SIGNING_KEY_FILE")
        return cls(
            database_url=env.get("HUB_DATABASE_URL") or None,
            data_dir=data_dir,
            hub_id=env.get("HUB_ID") or "referral-hub",
            host=env.get("HUB_HOST") or "127.0.0.1",
            port=_int(env, "HUB_PORT", 8080, 0, 65535),
            signing_key_file=Path(key_file).expanduser() if key_file else data_dir / "hub-signing-key.jwk",
            max_body_bytes=_int(env, "HUB_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, 64 * 1024 * 1024),
            log_level=(env.get("HUB_LOG_LEVEL") or "info").lower(),
            delivery=DeliverySettings.from_env(env),
            policy_dir=Path(env["HUB_POLICY_DIR"]).expanduser() if env.get("HUB_POLICY_DIR") else None,
            clock_poll_interval=_float(env, "HUB_CLOCK_POLL_SECONDS", 1.0, 0.01, 60.0),
        )

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def default_data_dir() -> Path:
    """Where the hub keeps its files when `HUB_DATA_DIR` is unset.

    The embedded PostgreSQL, run as root, makes every parent of its data directory world-traversable
    (o+rx) so that its unprivileged server user can reach it: as root we therefore use /var/lib, whose
    parents already are, rather than a home directory that would be opened up.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/referral-hub")
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "referral-hub"


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value
