"""Helpers for the console tests: a real hub on a TCP port, a console for a `Member`, signing in, and
the form values of a complete takedown request (all fictitious)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hub.api.app import create_app
from hub.console import ConsoleConfig, create_console_app
from hub.core.clock import rfc3339, utc_now
from tests.factories import Member

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
MESSAGE_ID = re.compile(r'name="message_id" value="([^"]+)"')
CONTENT_URL = "https://photos.example.com/p/console-0001"
CONTACT_EMAIL = "person@mail.example"


def console_config(member: Member, hub_url: str, data_dir: Path, **overrides: Any) -> ConsoleConfig:
    options: dict[str, Any] = {
        "participant_id": member.id,
        "key": member.key,
        "hub_url": hub_url,
        "data_dir": data_dir,
        "enc_key": member.enc,
        **overrides,
    }
    return ConsoleConfig(**options)


async def sign_in(client: Any, config: ConsoleConfig, token: str | None = None) -> None:
    """Open the sign-in link (a page with a button), then press "Sign in" (the POST spends the link)."""
    token = token or config.login_token
    page = await client.get(f"/login?token={token}", allow_redirects=False)
    assert page.status == 200, await page.text()
    response = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/inbox"


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def takedown_values(*recipients: str, **overrides: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "/to": list(recipients),
        "/body/category": "intimate-image",
        "/body/minor_depicted": "no",
        "count:/body/content": "1",
        "/body/content/0/url": CONTENT_URL,
        "/body/non_consent_statement/affirmed": "true",
        "/body/non_consent_statement/text": "The depicted adult did not consent to publication.",
        "/body/illegality/explanation": "An intimate image of an adult was published without consent.",
        "count:/body/illegality/laws": "1",
        "/body/illegality/laws/0/jurisdiction": "EU",
        "/body/illegality/laws/0/citation": "Directive (EU) 2024/1385, Art. 5",
        "/body/accuracy_statement/affirmed": "true",
        "/body/accuracy_statement/text": "We believe in good faith that this notice is accurate.",
        "/body/authorisation/signatory": "authorised-representative",
        "/body/authorisation/method": "hotline-attestation",
        "/body/authorisation/signed_at": rfc3339(utc_now()),
        "/body/authorisation/reference": "CONSOLE-TEST-0001",
        "/body/contact#email": CONTACT_EMAIL,
        "/body/jurisdictions": "EU\nIE",
        "/body/identical_copies": "yes",
        **overrides,
    }
    return values


def form_body(values: dict[str, Any], csrf: str, action: str = "send") -> list[tuple[str, str]]:
    """The values as a browser would post them (a list for repeated names)."""
    posted = [("csrf", csrf), ("action", action)]
    for name, value in values.items():
        for one in value if isinstance(value, list) else [value]:
            posted.append((name, one))
    return posted


@pytest.fixture
async def hub(settings: Any, aiohttp_client: Any) -> Any:
    """The hub the consoles talk to, on a real port (import it into a test module to use it)."""
    return await aiohttp_client(create_app(settings, background=False))


async def console_for(aiohttp_client: Any, hub: Any, member: Member, data_dir: Path, **options: Any) -> Any:
    """A console of `member` against `hub`, signed in."""
    config = console_config(member, str(hub.make_url("")).rstrip("/"), data_dir, **options)
    client = await aiohttp_client(create_console_app(config))
    await sign_in(client, config)
    return client
