"""Who may use the console: the login token (and passphrase), the session cookie, CSRF, Host and Origin.

No hub is needed: these requests are answered by the console before it would talk to one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.console import ConsoleConfig, create_console_app
from hub.console.auth import host_name
from hub.console.keys import LOGIN_LINKS
from hub.core.jose import PrivateSigningJwk
from tests.console_helpers import csrf_of, sign_in

NO_HUB = "http://127.0.0.1:9"


def config(tmp_path: Path, **overrides: Any) -> ConsoleConfig:
    return ConsoleConfig(
        participant_id="de-hotline-auth",
        key=PrivateSigningJwk.generate(),
        hub_url=NO_HUB,
        data_dir=tmp_path,
        **overrides,
    )


@pytest.fixture
def plain(tmp_path: Path) -> ConsoleConfig:
    return config(tmp_path)


async def test_without_a_session_pages_redirect_to_login_and_posts_are_refused(
    aiohttp_client: Any, plain: ConsoleConfig
) -> None:
    client = await aiohttp_client(create_console_app(plain))
    page = await client.get("/inbox", allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"] == "/login"
    posted = await client.post("/new/takedown-request", data={"csrf": "x"}, allow_redirects=False)
    assert posted.status == 401
    login = await client.get("/login")
    assert login.status == 200
    assert 'label for="token"' in await login.text()
    assert "signed in as" not in await login.text()  # nobody is, yet


async def test_the_login_link_starts_a_strict_http_only_session_and_lands_on_a_clean_url(
    aiohttp_client: Any, plain: ConsoleConfig
) -> None:
    client = await aiohttp_client(create_console_app(plain))
    opened = await client.get(f"/login?token={plain.login_token}", allow_redirects=False)
    assert opened.status == 200  # opening the link changes nothing: a previewer cannot spend it
    assert "Set-Cookie" not in opened.headers
    assert f"Sign in as {plain.participant_id}" in await opened.text()
    response = await client.post("/login", data={"token": plain.login_token}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/inbox"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{plain.cookie_name}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert plain.login_token not in cookie


async def test_a_sign_in_link_works_once(aiohttp_client: Any, plain: ConsoleConfig) -> None:
    client = await aiohttp_client(create_console_app(plain))
    signed = await client.post("/login", data={"token": plain.login_token}, allow_redirects=False)
    assert signed.status == 303
    first_session = signed.cookies[plain.cookie_name].value
    # The same link again, from another browser (a copy in the history, a shoulder-surfer, a previewer):
    client.session.cookie_jar.clear()
    opened = await client.get(f"/login?token={plain.login_token}", allow_redirects=False)
    assert opened.status == 403
    assert "has been used, has expired or was replaced" in await opened.text()
    again = await client.post("/login", data={"token": plain.login_token}, allow_redirects=False)
    assert again.status == 403
    assert "Set-Cookie" not in again.headers
    assert (await client.get("/inbox", allow_redirects=False)).headers["Location"] == "/login"
    client.session.cookie_jar.update_cookies({plain.cookie_name: first_session})
    assert (await client.get("/login")).status == 200
    assert "Sign out" in await (await client.get("/login")).text()  # the session it made lives on


async def test_an_expired_sign_in_link_is_refused(aiohttp_client: Any, tmp_path: Path) -> None:
    now = [1000.0]
    short = config(tmp_path, link_seconds=60)
    client = await aiohttp_client(create_console_app(short, clock=lambda: now[0]))
    now[0] += 61
    opened = await client.get(f"/login?token={short.login_token}", allow_redirects=False)
    assert opened.status == 403
    posted = await client.post("/login", data={"token": short.login_token}, allow_redirects=False)
    assert posted.status == 403
    assert "Set-Cookie" not in posted.headers
    assert "within 1 minutes" in await posted.text()


async def test_a_new_link_is_printed_where_the_console_runs_and_replaces_the_old(
    aiohttp_client: Any, plain: ConsoleConfig
) -> None:
    app = create_console_app(plain)
    printed: list[str] = []
    app[LOGIN_LINKS].on_issue = printed.append
    client = await aiohttp_client(app)
    asked = await client.post("/login/link", allow_redirects=False)
    assert asked.status == 303
    shown = await (await client.get(asked.headers["Location"])).text()
    assert "A new sign-in link was printed where the console runs" in shown
    [token] = printed
    assert token not in shown  # only the terminal has it
    old = await client.post("/login", data={"token": plain.login_token}, allow_redirects=False)
    assert old.status == 403
    new = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert new.status == 303
    foreign = await client.post(
        "/login/link", headers={"Sec-Fetch-Site": "same-site"}, allow_redirects=False
    )  # another page on 127.0.0.1 (another port is the same site, not the same origin)
    assert foreign.status == 403
    assert printed == [token]


async def test_a_wrong_token_is_refused(aiohttp_client: Any, plain: ConsoleConfig) -> None:
    client = await aiohttp_client(create_console_app(plain))
    for attempt in (f"/login?token={plain.login_token[:-1]}x", "/login?token="):
        response = await client.get(attempt, allow_redirects=False)
        assert response.status == 403
        assert "Set-Cookie" not in response.headers
    posted = await client.post("/login", data={"token": "wrong"}, allow_redirects=False)
    assert posted.status == 403
    assert (await client.get("/inbox", allow_redirects=False)).headers["Location"] == "/login"


async def test_a_passphrase_is_asked_for_as_well(aiohttp_client: Any, tmp_path: Path) -> None:
    guarded = config(tmp_path, passphrase="correct horse battery staple")
    client = await aiohttp_client(create_console_app(guarded))
    page = await client.get(f"/login?token={guarded.login_token}", allow_redirects=False)
    assert page.status == 200
    assert "Set-Cookie" not in page.headers
    assert 'label for="passphrase"' in await page.text()
    wrong = await client.post(
        "/login", data={"token": guarded.login_token, "passphrase": "wrong"}, allow_redirects=False
    )
    assert wrong.status == 403
    assert "the passphrase is not right" in await wrong.text()  # a typo does not spend the link
    wrong = await client.post(
        "/login", data={"token": guarded.login_token, "passphrase": "wrong"}, allow_redirects=False
    )
    assert wrong.status == 403
    right = await client.post(
        "/login",
        data={"token": guarded.login_token, "passphrase": "correct horse battery staple"},
        allow_redirects=False,
    )
    assert right.status == 303
    assert guarded.cookie_name in right.headers["Set-Cookie"]


async def test_another_host_name_is_refused(aiohttp_client: Any, plain: ConsoleConfig) -> None:
    client = await aiohttp_client(create_console_app(plain))
    rebound = await client.get(f"/login?token={plain.login_token}", headers={"Host": "attacker.example:8470"})
    assert rebound.status == 421
    assert "Set-Cookie" not in rebound.headers
    assert (await client.get("/login", headers={"Host": "localhost:8470"})).status == 200


async def test_a_post_without_the_csrf_token_or_from_another_site_is_refused(
    aiohttp_client: Any, plain: ConsoleConfig
) -> None:
    client = await aiohttp_client(create_console_app(plain))
    await sign_in(client, plain)
    assert (await client.post("/logout", data={}, allow_redirects=False)).status == 403
    assert (await client.post("/logout", data={"csrf": "guess"}, allow_redirects=False)).status == 403
    login_page = await client.get("/login")  # a signed-in page carries the session's token
    token = csrf_of(await login_page.text())
    foreign = await client.post(
        "/logout", data={"csrf": token}, headers={"Origin": "http://evil.example"}, allow_redirects=False
    )
    assert foreign.status == 403
    cross = await client.post(
        "/logout", data={"csrf": token}, headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False
    )
    assert cross.status == 403
    opaque = await client.post(
        "/logout", data={"csrf": token}, headers={"Origin": "null"}, allow_redirects=False
    )
    assert opaque.status == 403
    out = await client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303
    assert (await client.get("/inbox", allow_redirects=False)).headers["Location"] == "/login"


async def test_every_answer_forbids_framing_caching_and_scripts(
    aiohttp_client: Any, plain: ConsoleConfig
) -> None:
    client = await aiohttp_client(create_console_app(plain))
    response = await client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none' covers it
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "<title>Sign in · Referral hub console</title>" in await response.text()


@pytest.mark.parametrize(
    ("header", "name"),
    [("127.0.0.1:8470", "127.0.0.1"), ("localhost", "localhost"), ("[::1]:80", "[::1]"), ("", "")],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name
