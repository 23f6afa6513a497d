"""What a console runs with: whose it is, its keys, the hub, and how the page is protected."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from hub.core.jose import PrivateEncryptionJwk, PrivateSigningJwk

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
DEFAULT_LINK_SECONDS = 600  # a sign-in link is for the person at the terminal now, not for later
MIN_LINK_SECONDS, MAX_LINK_SECONDS = 30, 24 * 3600


@dataclass(frozen=True)
class ConsoleConfig:
    """One organisation's console.

    `login_token` is the secret in the first sign-in link, printed at start; each link is good once
    and for `link_seconds` (`auth.LoginLinks`); `passphrase`, when set, is asked for as well.
    `allowed_hosts` are the names the browser may use for the console (the Host header), which resists
    DNS rebinding: loopback names always, plus the listen address when it is not loopback.
    """

    participant_id: str
    key: PrivateSigningJwk
    hub_url: str
    data_dir: Path
    enc_key: PrivateEncryptionJwk | None = None
    passphrase: str | None = None
    login_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    session_idle_seconds: int = 8 * 3600
    link_seconds: int = DEFAULT_LINK_SECONDS
    cookie_name: str = field(default_factory=lambda: f"hub_console_{secrets.token_hex(4)}")
    trust_store: Path | None = None  # peers pinned and the log checkpoint kept (hub.client.trust_store)
    time_zone: str = "UTC"  # where its people are: the pages show times in it (an IANA name)
