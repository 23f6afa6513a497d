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
class MailSettings:
    """E-mail: the SMTP server the hub sends notices through (STARTTLS and login when configured) and
    the `hub mail-in` receiver for replies. The SMTP password is read from a file, never taken from an
    environment value (which ends up in process listings and crash reports)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password_file: Path | None = None
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "referral-hub@localhost"
    reply_domain: str = "localhost"
    mailin_host: str = "127.0.0.1"
    mailin_port: int = 8025
    mailin_lmtp: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MailSettings:
        password_file = env.get("HUB_SMTP_PASSWORD_FILE")
        return cls(
            smtp_host=env.get("HUB_SMTP_HOST") or "127.0.0.1",
            smtp_port=_int(env, "HUB_SMTP_PORT", 587, 1, 65535),
            smtp_starttls=_bool(env, "HUB_SMTP_STARTTLS", True),
            smtp_username=env.get("HUB_SMTP_USERNAME") or None,
            smtp_password_file=Path(password_file).expanduser() if password_file else None,
            smtp_timeout_seconds=_float(env, "HUB_SMTP_TIMEOUT_SECONDS", 30.0, 1.0, 600.0),
            mail_from=env.get("HUB_MAIL_FROM") or "referral-hub@localhost",
            reply_domain=(env.get("HUB_MAIL_REPLY_DOMAIN") or "localhost").lower(),
            mailin_host=env.get("HUB_MAILIN_HOST") or "127.0.0.1",
            mailin_port=_int(env, "HUB_MAILIN_PORT", 8025, 0, 65535),
            mailin_lmtp=_bool(env, "HUB_MAILIN_LMTP", False),
        )

    def smtp_password(self) -> str | None:
        """The SMTP password, read from its file now (so a rotated secret is picked up); None without one."""
        if self.smtp_password_file is None:
            return None
        return self.smtp_password_file.read_text("utf-8").strip()


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
    mail: MailSettings = field(default_factory=lambda: MailSettings())
    policy_dir: Path | None = None
    clock_poll_interval: float = 1.0
    audit_interval: float = 5.0
    intake_batch: int = 64  # most messages committed in one transaction (group commit); 1: one each
    storage_key_file: Path | None = None  # None: HUB_DATA_DIR/hub-storage-key
    retention_file: Path | None = None  # None: the packaged policies/retention.json

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = with_config_file(os.environ if env is None else env)
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
            mail=MailSettings.from_env(env),
            policy_dir=Path(env["HUB_POLICY_DIR"]).expanduser() if env.get("HUB_POLICY_DIR") else None,
            clock_poll_interval=_float(env, "HUB_CLOCK_POLL_SECONDS", 1.0, 0.01, 60.0),
            audit_interval=_float(env, "HUB_AUDIT_INTERVAL_SECONDS", 5.0, 0.1, 3600.0),
            intake_batch=_int(env, "HUB_INTAKE_BATCH", 64, 1, 1000),
            storage_key_file=Path(env["HUB_STORAGE_KEY_FILE"]).expanduser()
            if env.get("HUB_STORAGE_KEY_FILE")
            else None,
            retention_file=Path(env["HUB_RETENTION_FILE"]).expanduser()
            if env.get("HUB_RETENTION_FILE")
            else None,
        )

    @property
    def storage_key_path(self) -> Path:
        return self.storage_key_file or self.data_dir / "hub-storage-key"

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def with_config_file(env: Mapping[str, str]) -> Mapping[str, str]:
    """The environment over an optional file (`HUB_CONFIG_FILE`) of `HUB_NAME=value` lines: the file
    gives the settings a deployment keeps, the environment overrides any of them."""
    path = env.get("HUB_CONFIG_FILE")
    if not path:
        return env
    try:
        lines = Path(path).expanduser().read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"HUB_CONFIG_FILE {path} cannot be read: {exc.__class__.__name__}") from None
    from_file: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or not name.startswith("HUB_") or name == "HUB_CONFIG_FILE":
            raise SettingsError(f"{path} line {number}: expected HUB_NAME=value")
        from_file[name] = value.strip().strip('"')
    return {**from_file, **env}


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


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")
