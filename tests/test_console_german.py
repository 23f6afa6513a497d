"""The console in German, walked in a real browser (issue 17: English and German as in the e-mail notices).

A hotline's browser asks for German (Accept-Language: de-DE); the platform's asks for English and its
reviewer chooses Deutsch with the language link in the page's header. Both walk every page a person
reads on the core path: sign-in, inbox, the new takedown request (with its errors), the case page and
its timeline, the case list and its search, the answer forms, Review and sign, a page that is not
there, and "Your keys". Every page's visible text (the title and each listed answer included) must
hold no English word: what may stay as it is are names, ids, URLs, codes and what the person typed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hub.api.app import create_app
from hub.core.jose import PrivateEncryptionJwk
from tests.console_helpers import CONTACT_EMAIL, CONTENT_URL
from tests.factories import Member
from tests.test_console_browser import (  # noqa: F401 (fixtures)
    CHROMIUM_ARGS,
    CLIP_CASE,
    chromium,
    shots,
    start_console,
)
from tests.test_malicious_operator import insert_key

SEND = "Prüfen, signieren und senden"
# Words that are English and not German: one of them on a page is a text the catalogue lacks.
ENGLISH = frozenset(
    """the and of to your you with this that these those are is been has have had for not from by at on
    case cases message messages send sent sign signed signing inbox fetch fetched new due overdue deadline
    deadlines recipient recipients request requests report decision sealed signature verified open opened
    closed yes no none all only first next previous page answer ask close withdraw confirm acknowledge
    acknowledged acknowledgement type state role part when where which who what why how here there it its
    they them their our us we can cannot could should would must may any every each one some found find
    show order filter filters received since timeline keys key delivery update takedown assistance
    withdrawal closure counter notice response item items content hashes law laws
    statement reasons explanation jurisdiction jurisdictions contact reference file description notes
    action taken outcome removed review change created accepted delivered retrieved took reminded started
    met missed clock hours minutes days back out or than more less least most just platform
    endpoint config""".split()  # noqa: SIM905 (a list of words, read as one)
)
# What may stay as it is: ids, URLs, e-mail addresses, hex digests, codes, names of laws and standards.
ALLOWED = [
    re.compile(r"https?://\S+"),
    re.compile(r"Fictitious [a-z-]+ [a-z-]+"),  # a participant's name (tests/factories.py)
    re.compile(r"[\w.+-]+@[\w.-]+"),
    re.compile(r"\b[a-z]{2}-[a-z-]+-de\b"),  # participant ids
    re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b"),
    re.compile(r"TAKE IT DOWN Act|Online Safety Act|Digital Services Act|e-Evidence|e-CODEX|Section"),
    re.compile(r"--enc-key|hub keys fingerprint FILE|hub keys bind|in_reply_to"),
]


def english_words(text: str) -> list[str]:
    for allowed in ALLOWED:
        text = allowed.sub(" ", text)
    words = re.findall(r"[A-Za-z']+", text)
    return sorted(
        {w for w in words if w.lower() in ENGLISH and not (len(w) > 1 and w.isupper())}
    )  # US: a code


async def assert_german(page: Any, where: str) -> str:
    """The page's visible text and title hold no English word; returns the text."""
    text = await page.locator("body").inner_text()
    options = " ".join(await page.locator("option").all_inner_texts())
    title = await page.title()
    found = english_words(" ".join((title, text, options)))
    assert not found, f"English on {where} ({page.url}): {found}\n{text}"
    assert await page.locator("html").get_attribute("lang") == "de"
    return text


async def sign_in(page: Any, link: str, participant: str) -> None:
    await page.goto(link)
    await assert_german(page, "the sign-in page")
    await page.get_by_role("button", name=f"Als {participant} anmelden").click()
    await page.wait_for_url("**/inbox")


async def fill_takedown(page: Any, platform: Member, url: str) -> None:
    await page.get_by_role("checkbox", name=re.compile(platform.id)).check()
    await page.locator("#f-body-category").select_option("intimate-image")
    await page.locator("#f-body-minor_depicted").select_option("no")
    await page.locator("#f-body-content-0-url").fill(url)
    await page.locator("#f-body-non_consent_statement-affirmed").check()
    await page.locator("#f-body-non_consent_statement-text").fill(
        "Die abgebildete Erwachsene hat der Veröffentlichung nicht zugestimmt."
    )
    await page.locator("#f-body-illegality-explanation").fill(
        "Ein intimes Bild einer Erwachsenen wurde ohne Einwilligung veröffentlicht."
    )
    await page.locator("#f-body-illegality-laws-0-jurisdiction").fill("EU")
    await page.locator("#f-body-illegality-laws-0-citation").fill("Richtlinie (EU) 2024/1385, Art. 5")
    await page.locator("#f-body-accuracy_statement-affirmed").check()
    await page.locator("#f-body-accuracy_statement-text").fill(
        "Wir glauben nach bestem Wissen, dass diese Meldung zutrifft."
    )
    await page.locator("#f-body-authorisation-signatory").select_option("authorised-representative")
    await page.locator("#f-body-authorisation-method").select_option("hotline-attestation")
    await page.locator("#f-body-authorisation-reference").fill("DE-2026-0001")
    await page.locator("#f-body-contact-email").fill(CONTACT_EMAIL)
    await page.locator("#f-body-jurisdictions").fill("EU\nIE")


async def hotline_walks(page: Any, platform: Member) -> str:
    await assert_german(page, "the inbox")
    await page.get_by_role("link", name="Neues Entfernungsersuchen").click()
    await page.wait_for_url("**/new/takedown-request")
    await assert_german(page, "the takedown form")
    await page.get_by_role("button", name=SEND).last.click()  # nothing filled in: every fault in words
    await page.get_by_role("alert").filter(has_text="Nichts wurde signiert oder gesendet").wait_for()
    await assert_german(page, "the empty takedown form's faults")
    await fill_takedown(page, platform, "photos.example.com/p/de-0001")
    await page.get_by_role("button", name=SEND).last.click()
    await page.get_by_role("alert").filter(has_text="Nichts wurde signiert oder gesendet").wait_for()
    text = await assert_german(page, "the takedown form with a wrong address")
    assert "beginnend mit https://" in text
    await page.locator("#f-body-content-0-url").fill(CONTENT_URL)
    await page.locator("#f-body-contact-email").fill(CONTACT_EMAIL)
    await page.get_by_role("button", name=SEND).last.click()
    await page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}$"))
    text = await assert_german(page, "the new case")
    assert "Entfernungsersuchen gesendet und vom Hub angenommen" in text
    assert "Ihre Organisation hat eine Nachricht an" in text
    return page.url.rsplit("/", 1)[1]


async def platform_walks(page: Any, case_id: str) -> None:
    await page.get_by_role("button", name="Neue Nachrichten abrufen").click()
    await page.wait_for_url("**/inbox")
    text = await assert_german(page, "the platform's inbox")
    assert "1 neue Nachricht abgerufen." in text
    await page.get_by_role("link", name=f"Fall {case_id[:8]}").first.click()
    await page.wait_for_url(f"**/cases/{case_id}")
    await assert_german(page, "the platform's case page")
    await page.get_by_role("link", name="Eingang bestätigen").click()
    await assert_german(page, "the acknowledgement form")
    await page.locator("#f-body-reference").fill("TICKET-42")
    await page.get_by_role("button", name=SEND).last.click()
    await page.wait_for_url(f"**/cases/{case_id}")
    await page.get_by_role("link", name="Entscheidung melden").click()
    await assert_german(page, "the decision form")
    await page.locator("#f-body-status").select_option("actioned")
    await page.locator("#f-body-action").select_option("removed")
    await page.get_by_role("button", name=SEND).last.click()  # no decision time: said in German
    await page.get_by_role("alert").first.wait_for()
    await assert_german(page, "the decision form's faults")
    await page.locator("#f-body-decided_at").fill("2026-01-05T11:00:00Z")
    await page.get_by_role("button", name=SEND).last.click()
    await page.get_by_role("region", name="Was signiert wird").wait_for()
    text = await assert_german(page, "Review and sign")
    assert "Keine Begründung (EU DSA Art. 17)" in text  # an EU platform restricting without reasons
    await page.get_by_role("button", name="Signieren und senden").click()
    await page.wait_for_url(f"**/cases/{case_id}")
    await assert_german(page, "the decided case")


async def lists_and_keys(page: Any, base: str, case_id: str) -> None:
    await page.get_by_role("link", name="Fälle", exact=True).click()
    await page.wait_for_url("**/cases")
    await assert_german(page, "the case list")
    await page.get_by_label("Fall suchen").fill("zzzzzz")
    await page.get_by_role("button", name="Suchen", exact=True).click()
    await page.get_by_role("alert").wait_for()
    await assert_german(page, "a search that finds nothing")
    await page.goto(f"{base}/cases?state=nonsense&country=x")
    await assert_german(page, "the case list with wrong filters")
    await page.goto(f"{base}/new/no-such-form")
    await assert_german(page, "a form that is not there")
    await page.goto(f"{base}/no/such/page")
    await assert_german(page, "an address that is no page")
    await page.goto(f"{base}/cases/{case_id}")
    await page.get_by_role("link", name="Ihre Schlüssel").click()
    await page.wait_for_url("**/directory/self")
    await assert_german(page, "your keys")


async def test_every_page_in_german_in_a_real_browser(
    settings: Any,
    directory: Any,
    aiohttp_client: Any,
    aiohttp_server: Any,
    chromium: str,  # noqa: F811 (the fixture)
    shots: Path,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is a test dependency")
    hotline = await directory.add("de-hotline-de", "hotline", "DE")
    platform = await directory.add("ie-platform-de", "platform", "IE")
    hub = await aiohttp_client(create_app(settings, background=False))
    hub_url = str(hub.make_url("")).rstrip("/")
    base, hotline_login = await start_console(aiohttp_server, hotline, hub_url, tmp_path / "hotline")
    _, platform_login = await start_console(aiohttp_server, platform, hub_url, tmp_path / "platform")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            german = await browser.new_context(locale="de-DE", viewport={"width": 1200, "height": 900})
            hotline_page = await german.new_page()
            hotline_page.set_default_timeout(15_000)
            await sign_in(hotline_page, hotline_login, hotline.id)
            case_id = await hotline_walks(hotline_page, platform)

            english = await browser.new_context(locale="en-GB")
            platform_page = await english.new_page()
            platform_page.set_default_timeout(15_000)
            await platform_page.goto(platform_login)
            assert await platform_page.locator("html").get_attribute("lang") == "en"
            await platform_page.get_by_role("link", name="Deutsch").click()  # the viewer's own choice
            await sign_in(platform_page, platform_login, platform.id)
            await platform_walks(platform_page, case_id)

            await hotline_page.goto(f"{base}/cases/{case_id}")
            text = await assert_german(hotline_page, "the hotline's decided case")
            assert "Inhalte entfernt oder beschränkt" in text
            await hotline_page.screenshot(path=str(shots / "case-de.png"), full_page=True, clip=CLIP_CASE)
            # the operator adds a key the hotline did not bind: "Your keys" says so, in German
            operator_key = PrivateEncryptionJwk.generate("de-hotline-de-enc-operator")
            await insert_key(directory.conn, hotline.id, operator_key.public().to_dict())
            await lists_and_keys(hotline_page, base, case_id)
            assert "Sie haben ihn nicht gebunden" in await hotline_page.get_by_role("alert").inner_text()
            await hotline_page.get_by_role("link", name="English").click()
            assert "Your directory entry" in await hotline_page.locator("h1").inner_text()
        finally:
            await browser.close()
    assert (shots / "case-de.png").stat().st_size > 10_000


def test_the_check_finds_english_and_lets_names_pass() -> None:
    assert english_words("Fall 3f2a9c1e: Ihre Organisation hat den Fall eröffnet") == []
    assert english_words("de-hotline-de an https://photos.example.com/p/the-case") == []
    assert english_words("Fall 3f2a9c1e: due in 3 h; Sign out") == ["Sign", "due", "out"]
