"""The core user story in a real browser: headless Chromium (Debian's package, driven by Playwright; no
browser is downloaded) against two consoles and one hub on a real PostgreSQL.

A hotline fills in a takedown request, first with a web address that is not one (the schema's message
appears at the field, nothing is signed), then correctly, and submits it; the platform's console shows it
in the inbox with the hotline's signature verified and the contact unsealed with the platform's key; the
platform acknowledges it and reports removal with a statement of reasons; the hotline sees the case
actioned and closes it. What the hub stored verifies with jwcrypto. Screenshots of the inbox, the form
with its error and the case timeline are saved to `docs/console/` when HUB_UPDATE_SCREENSHOTS=1 (else to
the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hub.api.app import create_app
from hub.console import create_console_app
from tests.console_helpers import CONTACT_EMAIL, CONTENT_URL, console_config
from tests.factories import Member
from tests.test_console_http import jwcrypto_payload

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "console"
SEND = "Check, sign and send"
CLIP_INBOX = {"x": 0, "y": 0, "width": 1200, "height": 540}
CLIP_FORM = {"x": 0, "y": 0, "width": 1200, "height": 1150}
CLIP_CASE = {"x": 0, "y": 0, "width": 1200, "height": 1500}


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="session")
def chromium() -> str:
    found = find_chromium()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, check=False, timeout=600
        )
        found = find_chromium()
    if found is None:
        pytest.skip("no Chromium: install Debian's package 'chromium'")
    return found


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    if os.environ.get("HUB_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        return DOCS
    return tmp_path


async def start_console(aiohttp_server: Any, member: Member, hub_url: str, data_dir: Path) -> tuple[str, str]:
    config = console_config(member, hub_url, data_dir)
    server = await aiohttp_server(create_console_app(config))
    base = str(server.make_url("")).rstrip("/")
    return base, f"{base}/login?token={config.login_token}"


async def sign_in(page: Any, link: str, participant: str) -> None:
    """Open the printed link, press "Sign in": the link is spent, the token leaves the address bar."""
    await page.goto(link)
    await page.get_by_role("button", name=f"Sign in as {participant}").click()
    await page.wait_for_url("**/inbox")


async def fill_takedown(page: Any, platform: Member, url: str) -> None:
    await page.get_by_role("checkbox", name=re.compile(platform.id)).check()
    await page.get_by_label("What kind of content is it?").select_option("intimate-image")
    await page.get_by_label("Could the person shown be under 18?").select_option("no")
    await page.get_by_label("Web address (URL)").fill(url)
    await page.locator("#f-body-non_consent_statement-affirmed").check()
    await page.locator("#f-body-non_consent_statement-text").fill(
        "The depicted adult did not consent to this."
    )
    await page.get_by_label("Explanation").fill(
        "An intimate image of an adult was published without consent."
    )
    await page.get_by_label("Jurisdiction (country code or EU)").fill("EU")
    await page.get_by_label("Provision").fill("Directive (EU) 2024/1385, Art. 5")
    await page.locator("#f-body-accuracy_statement-affirmed").check()
    await page.locator("#f-body-accuracy_statement-text").fill(
        "We believe in good faith this notice is accurate."
    )
    await page.get_by_label("Who signed").select_option("authorised-representative")
    await page.get_by_label("How they signed").select_option("hotline-attestation")
    await page.get_by_label("Your file reference").fill("E2E-0001")
    await page.get_by_label("E-mail address").fill(CONTACT_EMAIL)
    await page.get_by_label("Jurisdictions whose laws apply").fill("EU\nIE")


async def hotline_sends_a_takedown(page: Any, platform: Member, shots: Path) -> str:
    await page.get_by_role("link", name="New takedown request").click()
    await page.wait_for_url("**/new/takedown-request")
    assert await page.title() == "New takedown request · Referral hub console"
    await fill_takedown(page, platform, "photos.example.com/p/e2e-0001")
    await page.get_by_role("button", name=SEND).last.click()
    summary = page.get_by_role("alert").filter(has_text="Nothing was signed or sent")
    await summary.wait_for()
    url_field = page.get_by_label("Web address (URL)")
    assert await url_field.get_attribute("aria-invalid") == "true"
    assert "starting with https://" in await page.locator("#f-body-content-0-url-error").inner_text()
    await page.screenshot(path=str(shots / "form-error.png"), full_page=True, clip=CLIP_FORM)

    await url_field.fill(CONTENT_URL)
    await url_field.press("Enter")  # the keyboard sends the form: Enter is "check, sign and send"
    await page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}$"))
    assert "Takedown request sent and accepted by the hub" in await page.locator(".flash").inner_text()
    case_id = page.url.rsplit("/", 1)[1]
    assert CONTENT_URL not in page.url
    return case_id


async def platform_acts(page: Any, case_id: str, shots: Path) -> None:
    row = page.get_by_role("row").filter(has_text=f"Case {case_id[:8]}")
    assert "✓ Verified" in await row.inner_text()
    assert "due in" in await row.inner_text()
    await page.screenshot(path=str(shots / "inbox.png"), clip=CLIP_INBOX)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to the main content"
    await row.get_by_role("link", name=f"Case {case_id[:8]}").click()
    await page.wait_for_url(f"**/cases/{case_id}")
    assert CONTACT_EMAIL in await page.locator("details.message").first.inner_text()

    await page.get_by_role("link", name="Acknowledge").click()
    await page.get_by_label("Your file reference").fill("TICKET-42")
    await page.get_by_role("button", name=SEND).last.click()
    await page.wait_for_url(f"**/cases/{case_id}")
    assert "Acknowledgement sent" in await page.locator(".flash").inner_text()

    await page.get_by_role("link", name="Report a decision").click()
    await page.get_by_label("Where it stands").select_option("actioned")
    await page.get_by_label("Action taken").select_option("removed")
    await page.get_by_label("Restriction imposed").select_option("removed")
    await page.get_by_label("Facts and circumstances relied on").fill(
        "Removed after a notice under DSA Art. 16 from a hotline."
    )
    await page.locator("#f-body-statement_of_reasons-automated_means-no").check()
    await page.get_by_label("Ground for the decision").select_option("illegal-content")
    await page.get_by_label("Legal ground").fill("Non-consensual intimate image, Directive (EU) 2024/1385.")
    await page.get_by_role("checkbox", name="Internal complaint").check()
    await page.get_by_label(re.compile("^When the decision was taken")).fill("2026-01-05T11:00:00Z")
    await page.get_by_role("button", name=SEND).last.click()
    # Review and sign: exactly what will be signed, the decision time the reviewer typed in sight.
    review = await page.get_by_role("region", name="What will be signed").inner_text()
    assert "2026-01-05T11:00:00Z" in review
    assert "No statement of reasons" not in await page.locator("main").inner_text()
    await page.screenshot(path=str(shots / "review-and-sign.png"), full_page=True, clip=CLIP_FORM)
    await page.get_by_role("button", name="Sign and send").click()
    await page.wait_for_url(f"**/cases/{case_id}")
    assert "Status update sent" in await page.locator(".flash").inner_text()


async def hotline_closes(page: Any, case_id: str, shots: Path) -> None:
    await page.goto(page.url)
    assert "Actioned" in await page.locator("h1").inner_text()
    recipients = await page.locator("table.recipients").inner_text()
    assert "content removed or restricted" in recipients
    await page.get_by_role("link", name="Close the case").click()
    await page.get_by_label("Reason").select_option("resolved")
    await page.get_by_role("button", name=SEND).last.click()
    await page.wait_for_url(f"**/cases/{case_id}")
    assert "Closed" in await page.locator("h1").inner_text()
    timeline = await page.locator("ol.timeline").inner_text()
    assert "You closed the case (resolved)" in timeline  # who did what to whom, in words
    assert "met the deadline: acknowledge" in timeline
    assert "took it from the inbox" in timeline
    assert "sent a takedown request to" in timeline
    assert await page.title() == f"Case {case_id[:8]} · Referral hub console"
    await page.screenshot(path=str(shots / "case-timeline.png"), full_page=True, clip=CLIP_CASE)


async def check_with_jwcrypto(
    hub: Any, sender: Member, recipient: Member, types: list[str]
) -> list[dict[str, Any]]:
    """Read the recipient's inbox straight from the hub's API (without taking the messages) and verify
    every message with jwcrypto and the key the directory publishes for the sender."""
    inbox = await (await hub.get("/v1/inbox", headers=recipient.auth())).json()
    keys = (await (await hub.get(f"/v1/participants/{sender.id}")).json())["jwks"]
    envelopes = [jwcrypto_payload(item["message"], keys) for item in inbox["messages"]]
    assert [e["type"] for e in envelopes] == types
    return envelopes


async def test_core_path_in_a_real_browser(
    settings: Any,
    directory: Any,
    aiohttp_client: Any,
    aiohttp_server: Any,
    chromium: str,
    shots: Path,
    tmp_path: Path,
) -> None:
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is a test dependency")
    hotline = await directory.add("de-hotline-e2e", "hotline", "DE")
    platform = await directory.add("ie-platform-e2e", "platform", "IE")
    hub = await aiohttp_client(create_app(settings, background=False))
    hub_url = str(hub.make_url("")).rstrip("/")
    _, hotline_login = await start_console(aiohttp_server, hotline, hub_url, tmp_path / "hotline")
    _, platform_login = await start_console(aiohttp_server, platform, hub_url, tmp_path / "platform")

    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            hotline_page = await (
                await browser.new_context(viewport={"width": 1200, "height": 900})
            ).new_page()
            hotline_page.set_default_timeout(15_000)
            await sign_in(hotline_page, hotline_login, hotline.id)
            stranger = await (await browser.new_context()).new_page()  # the same link, used again
            await stranger.goto(hotline_login)
            assert "has been used, has expired" in await stranger.get_by_role("alert").inner_text()
            assert await stranger.get_by_role("button", name=re.compile("^Sign in as")).count() == 0
            case_id = await hotline_sends_a_takedown(hotline_page, platform, shots)

            [request] = await check_with_jwcrypto(hub, hotline, platform, ["takedown-request"])
            assert request["body"]["content"] == [{"url": CONTENT_URL}]
            assert CONTACT_EMAIL not in json.dumps(request)

            platform_page = await (
                await browser.new_context(viewport={"width": 1200, "height": 900})
            ).new_page()
            platform_page.set_default_timeout(15_000)
            await sign_in(platform_page, platform_login, platform.id)
            await platform_page.get_by_role("button", name="Fetch new messages").click()
            await platform_page.wait_for_url("**/inbox")
            assert "Fetched 1 new message." in await platform_page.locator(".flash").inner_text()
            await platform_acts(platform_page, case_id, shots)

            answers = await check_with_jwcrypto(hub, platform, hotline, ["acknowledgement", "status-update"])
            assert answers[1]["body"]["statement_of_reasons"]["redress"] == ["internal-complaint"]
            assert all(a["in_reply_to"] == request["id"] for a in answers)

            await hotline_closes(hotline_page, case_id, shots)
        finally:
            await browser.close()
    case = await (await hub.get(f"/v1/cases/{case_id}", headers=hotline.auth())).json()
    assert case["status"] == "closed"
    for name in ("form-error.png", "inbox.png", "review-and-sign.png", "case-timeline.png"):
        assert (shots / name).stat().st_size > 10_000


async def test_back_and_send_again_shows_the_case_already_made(
    settings: Any, directory: Any, aiohttp_client: Any, aiohttp_server: Any, chromium: str, tmp_path: Path
) -> None:
    """Issue 16.10: a person sends a takedown request, presses the browser's Back and sends the form again:
    the console shows the case the first send made, and the hub holds one case."""
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is a test dependency")
    hotline = await directory.add("de-hotline-back", "hotline", "DE")
    platform = await directory.add("ie-platform-back", "platform", "IE")
    hub = await aiohttp_client(create_app(settings, background=False))
    hub_url = str(hub.make_url("")).rstrip("/")
    _, login = await start_console(aiohttp_server, hotline, hub_url, tmp_path / "hotline")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            page.set_default_timeout(15_000)
            await sign_in(page, login, hotline.id)
            await page.get_by_role("link", name="New takedown request").click()
            await page.wait_for_url("**/new/takedown-request")
            await fill_takedown(page, platform, CONTENT_URL)
            await page.get_by_role("button", name=SEND).last.click()
            await page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}$"))
            first_case = page.url
            await page.go_back()
            assert page.url.endswith("/new/takedown-request")
            # Chromium keeps what was typed, except the sealed contact (autocomplete off): typed again.
            assert await page.get_by_label("Web address (URL)").input_value() == CONTENT_URL
            await page.get_by_label("E-mail address").fill(CONTACT_EMAIL)
            await page.get_by_role("button", name=SEND).last.click()
            await page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}$"))
            assert page.url == first_case
            assert "This form was already sent" in await page.locator(".flash").inner_text()
        finally:
            await browser.close()
    listed = await (await hub.get("/v1/cases", headers=hotline.auth())).json()
    assert len(listed["cases"]) == 1
