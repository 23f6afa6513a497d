"""Settings, read once from the environment and passed explicitly (no globals).

The contract names the variables: `HUB_DATABASE_URL` (unset: an embedded PostgreSQL under the data
directory), `HUB_DATA_DIR`, `HUB_ID` (the `aud` of participants' tokens), `HUB_HOST`, `HUB_PORT`.
`HUB_SIGNING_KEY_FILE` names the hub's own Ed25519 private JWK (default: in the data directory).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_MAX_BODY_BYTES = 256 * 1024


class SettingsError(Exception):
    """An environment variable holds a value the hub cannot use."""


def env_setting(default: Any, env: str, low: float | None = None, high: float | None = None) -> Any:
    """A setting's one home: its default, the variable that overrides it and the bounds it must hold.
    `from_env` reads every field declared this way; the type annotation says how the text is parsed."""
    return field(default=default, metadata={"env": env, "low": low, "high": high})


def _from_env(cls: type[T], env: Mapping[str, str], **computed: Any) -> T:
    """`cls` with each `env_setting` field taken from `env` where set (parsed by its declared type and
    checked against its bounds) and its default otherwise; `computed` fields are given by the caller."""
    values: dict[str, Any] = dict(computed)
    for f in fields(cls):  # type: ignore[arg-type]
        name = f.metadata.get("env")
        if name is None or f.name in values or not env.get(name):
            continue
        values[f.name] = _parse(env, name, str(f.type), f.metadata["low"], f.metadata["high"])
    return cls(**values)


def _parse(env: Mapping[str, str], name: str, kind: str, low: float | None, high: float | None) -> Any:
    raw = env[name]
    if kind.startswith("bool"):
        return _bool(env, name, False)
    if kind.startswith("int"):
        return _int(env, name, 0, int(low if low is not None else -(2**62)), int(high or 2**62))
    if kind.startswith("float"):
        return _float(env, name, 0.0, low if low is not None else float("-inf"), high or float("inf"))
    if kind.startswith("Path"):
        return Path(raw).expanduser()
    return raw


@dataclass(frozen=True)
class DeliverySettings:
    """Push delivery: leases, concurrency, retry budget and shutdown grace (seconds unless named)."""

    max_in_flight_per_destination: int = env_setting(4, "HUB_DELIVERY_MAX_IN_FLIGHT", 1, 1000)
    max_concurrency: int = env_setting(64, "HUB_DELIVERY_CONCURRENCY", 1, 10000)
    lease_seconds: float = env_setting(60.0, "HUB_DELIVERY_LEASE_SECONDS", 1.0, 3600.0)
    poll_interval: float = env_setting(1.0, "HUB_DELIVERY_POLL_SECONDS", 0.01, 60.0)
    retry_base_seconds: float = env_setting(2.0, "HUB_RETRY_BASE_SECONDS", 0.01, 3600.0)
    retry_cap_seconds: float = env_setting(600.0, "HUB_RETRY_CAP_SECONDS", 0.01, 86400.0)
    retry_max_attempts: int = env_setting(30, "HUB_RETRY_MAX_ATTEMPTS", 1, 10000)
    retry_max_age_seconds: float = env_setting(72 * 3600.0, "HUB_RETRY_MAX_AGE_SECONDS", 1.0, 365 * 86400.0)
    park_after_refusals: int = env_setting(6, "HUB_PARK_AFTER_REFUSALS", 1, 100)
    shutdown_grace_seconds: float = env_setting(20.0, "HUB_SHUTDOWN_GRACE_SECONDS", 0.0, 3600.0)
    worker_id: str = env_setting("", "HUB_WORKER_ID")  # empty: host name and process id
    # false: `hub serve` takes requests only and `hub worker` processes beside it push (split roles)
    in_serve: bool = env_setting(True, "HUB_DELIVERY_WORKER")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DeliverySettings:
        return _from_env(
            cls, env, **({"worker_id": env["HUB_WORKER_ID"][:100]} if env.get("HUB_WORKER_ID") else {})
        )


@dataclass(frozen=True)
class MailSettings:
    """E-mail: the SMTP server the hub sends notices through (STARTTLS and login when configured) and
    the `hub mail-in` receiver for replies. The SMTP password is read from a file, never taken from an
    environment value (which ends up in process listings and crash reports)."""

    smtp_host: str = env_setting("127.0.0.1", "HUB_SMTP_HOST")
    smtp_port: int = env_setting(587, "HUB_SMTP_PORT", 1, 65535)
    smtp_starttls: bool = env_setting(True, "HUB_SMTP_STARTTLS")
    smtp_username: str | None = env_setting(None, "HUB_SMTP_USERNAME")
    smtp_password_file: Path | None = env_setting(None, "HUB_SMTP_PASSWORD_FILE")
    smtp_timeout_seconds: float = env_setting(30.0, "HUB_SMTP_TIMEOUT_SECONDS", 1.0, 600.0)
    mail_from: str = env_setting("referral-hub@localhost", "HUB_MAIL_FROM")
    reply_domain: str = env_setting("localhost", "HUB_MAIL_REPLY_DOMAIN")
    # the hub's public address, as notices give it for its keys and directory (empty: paths only)
    public_url: str = env_setting("", "HUB_PUBLIC_URL")
    mailin_host: str = env_setting("127.0.0.1", "HUB_MAILIN_HOST")
    mailin_port: int = env_setting(8025, "HUB_MAILIN_PORT", 0, 65535)
    mailin_lmtp: bool = env_setting(False, "HUB_MAILIN_LMTP")
    # authserv-ids (RFC 8601) of the mail servers whose Authentication-Results mail-in trusts, comma
    # separated; empty: none, DKIM is verified by mail-in itself (hub.core.mail_auth)
    mailin_trusted_authserv_ids: str = env_setting("", "HUB_MAILIN_TRUSTED_AUTHSERV_IDS")
    mailin_dns_timeout_seconds: float = env_setting(5.0, "HUB_MAILIN_DNS_TIMEOUT_SECONDS", 1.0, 60.0)
    mailin_max_bytes: int = env_setting(10 * 1024 * 1024, "HUB_MAILIN_MAX_BYTES", 64 * 1024, 64 * 1024 * 1024)
    # mail to no known reply address: at most this much of it is kept, and only for this long
    mailin_unmatched_max_bytes: int = env_setting(16 * 1024, "HUB_MAILIN_UNMATCHED_MAX_BYTES", 0, 1024 * 1024)
    mailin_unmatched_retention_hours: int = env_setting(72, "HUB_MAILIN_UNMATCHED_RETENTION_HOURS", 1, 2160)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MailSettings:
        domain = env.get("HUB_MAIL_REPLY_DOMAIN")
        public = env.get("HUB_PUBLIC_URL", "").strip().rstrip("/")
        if public and not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[^\s?#]*)?", public):
            raise SettingsError(
                "HUB_PUBLIC_URL must be the hub's http(s) address, e.g. https://hub.example.org"
            )
        changes = {"reply_domain": domain.lower()} if domain else {}
        return _from_env(cls, env, **changes, **({"public_url": public} if public else {}))

    @property
    def trusted_authserv_ids(self) -> frozenset[str]:
        return frozenset(i.strip().lower() for i in self.mailin_trusted_authserv_ids.split(",") if i.strip())

    def smtp_password(self) -> str | None:
        """The SMTP password, read from its file now (so a rotated secret is picked up); None without one."""
        if self.smtp_password_file is None:
            return None
        return self.smtp_password_file.read_text("utf-8").strip()


@dataclass(frozen=True)
class LimitSettings:
    """What one client may hold: open connections (with a reserve for health probes), time to send the
    request headers and body, concurrent long-polls per participant. See `hub/api/connections.py`."""

    max_connections: int = env_setting(500, "HUB_MAX_CONNECTIONS", 8, 1_000_000)
    connection_reserve: int = env_setting(32, "HUB_CONNECTION_RESERVE", 1, 10_000)
    header_timeout_seconds: float = env_setting(15.0, "HUB_HEADER_TIMEOUT_SECONDS", 0.1, 600.0)
    body_timeout_seconds: float = env_setting(30.0, "HUB_BODY_TIMEOUT_SECONDS", 0.1, 600.0)
    max_long_polls_per_participant: int = env_setting(4, "HUB_MAX_LONG_POLLS_PER_PARTICIPANT", 1, 1000)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LimitSettings:
        return _from_env(cls, env)


@dataclass(frozen=True)
class Settings:
    # The two settings without a fixed default (they depend on the user): from_env computes them.
    data_dir: Path = field(metadata={"env": "HUB_DATA_DIR"})  # default_data_dir()
    signing_key_file: Path = field(metadata={"env": "HUB_SIGNING_KEY_FILE"})  # data_dir/hub-signing-key.jwk
    database_url: str | None = env_setting(None, "HUB_DATABASE_URL")
    hub_id: str = env_setting("referral-hub", "HUB_ID")
    host: str = env_setting("127.0.0.1", "HUB_HOST")
    port: int = env_setting(8080, "HUB_PORT", 0, 65535)
    max_body_bytes: int = env_setting(DEFAULT_MAX_BODY_BYTES, "HUB_MAX_BODY_BYTES", 1024, 64 * 1024 * 1024)
    log_level: str = env_setting("info", "HUB_LOG_LEVEL")
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    mail: MailSettings = field(default_factory=MailSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    policy_dir: Path | None = env_setting(None, "HUB_POLICY_DIR")
    clock_poll_interval: float = env_setting(1.0, "HUB_CLOCK_POLL_SECONDS", 0.01, 60.0)
    audit_interval: float = env_setting(5.0, "HUB_AUDIT_INTERVAL_SECONDS", 0.1, 3600.0)
    # every registered peer hub's vouching feed taken this often (docs/federation.md, section 3); 0: off
    peer_sync_interval: float = env_setting(300.0, "HUB_PEER_SYNC_SECONDS", 0.0, 86400.0)
    # most messages committed in one transaction (group commit); 1: one each
    intake_batch: int = env_setting(64, "HUB_INTAKE_BATCH", 1, 1000)
    # hub processes sharing the port (SO_REUSEPORT), each with its API and workers: one per core
    processes: int = env_setting(1, "HUB_PROCESSES", 1, 256)
    storage_key_file: Path | None = env_setting(
        None, "HUB_STORAGE_KEY_FILE"
    )  # None: HUB_DATA_DIR/hub-storage-key
    retention_file: Path | None = env_setting(
        None, "HUB_RETENTION_FILE"
    )  # None: packaged policies/retention.json
    metrics_token_file: Path | None = env_setting(None, "HUB_METRICS_TOKEN_FILE")  # None: /metrics is open

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = with_config_file(os.environ if env is None else env)
        data_dir = Path(env.get("HUB_DATA_DIR") or default_data_dir()).expanduser()
        level = env.get("HUB_LOG_LEVEL")
        key_file = env.get("HUB_SIGNING_KEY_FILE")
        return _from_env(
            cls,
            env,
            data_dir=data_dir,
            signing_key_file=Path(key_file).expanduser() if key_file else data_dir / "hub-signing-key.jwk",
            delivery=DeliverySettings.from_env(env),
            mail=MailSettings.from_env(env),
            limits=LimitSettings.from_env(env),
            **({"log_level": level.lower()} if level else {}),
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


def settings_reference() -> str:
    """The Markdown table of every variable with its default and bounds, made from the declarations
    (docs/operations.md holds a copy; a test keeps the two equal)."""
    rows = ["| variable | default | bounds |", "|---|---|---|"]
    groups: list[type] = [Settings, DeliverySettings, MailSettings, LimitSettings]
    for group in groups:
        for f in fields(group):
            name = f.metadata.get("env")
            if name is None:
                continue
            if f.name == "data_dir":
                default = "see below"
            elif f.name == "signing_key_file":
                default = "`HUB_DATA_DIR/hub-signing-key.jwk`"
            else:
                value = f.default
                default = "unset" if value is None or value == "" else f"`{value}`"
            low, high = f.metadata.get("low"), f.metadata.get("high")
            bounds = f"{_number(low)} to {_number(high)}" if low is not None and high is not None else ""
            rows.append(f"| `{name}` | {default} | {bounds} |")
    return "\n".join(rows) + "\n"


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"
