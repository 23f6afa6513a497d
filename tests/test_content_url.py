"""The one rule of when two content URLs name the same content, and the keyed digest of one
(hub.core.content_url): pure, no database."""

from __future__ import annotations

import pytest

from hub.core.content_url import (
    digest_key,
    looks_like_url,
    normalised,
    request_urls,
    url_digest,
    url_digests,
)

KEY = digest_key(bytes(range(32)))


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("https://photos.example.com/p/1", "https://photos.example.com/p/1"),
        ("  HTTPS://Photos.Example.COM/p/1  ", "https://photos.example.com/p/1"),
        ("https://photos.example.com:443/p/1", "https://photos.example.com/p/1"),
        ("http://photos.example.com:80/p/1", "http://photos.example.com/p/1"),
        ("https://photos.example.com:8443/p/1", "https://photos.example.com:8443/p/1"),
        ("https://photos.example.com/p/1#comment-3", "https://photos.example.com/p/1"),
        ("https://photos.example.com", "https://photos.example.com/"),
        ("https://photos.example.com/P/1?Size=Large", "https://photos.example.com/P/1?Size=Large"),
        ("https://[2001:DB8::1]:443/p/1", "https://[2001:db8::1]/p/1"),
        ("https://user@Photos.example.com/p/1", "https://user@photos.example.com/p/1"),
        ("https://photos.example.com:notaport/p", "https://photos.example.com:notaport/p"),
    ],
)
def test_the_normal_form(given: str, normal: str) -> None:
    assert normalised(given) == normal


def test_the_same_content_has_one_digest_and_other_content_another() -> None:
    same = url_digest(KEY, "HTTPS://PHOTOS.EXAMPLE.COM:443/p/1#top")
    assert same == url_digest(KEY, "https://photos.example.com/p/1")
    assert same != url_digest(KEY, "https://photos.example.com/P/1")  # a path may be case-sensitive
    assert same != url_digest(KEY, "https://photos.example.com/p/1?x=1")
    assert len(same) == 32
    assert b"photos" not in same


def test_the_digest_needs_the_hub_s_key() -> None:
    other = digest_key(bytes(32))
    assert url_digest(other, "https://photos.example.com/p/1") != url_digest(
        KEY, "https://photos.example.com/p/1"
    )
    assert bytes(range(32)) != KEY  # derived: the storage key itself keys no digest


def test_which_urls_a_message_gives_digests_of() -> None:
    body = {
        "content": [
            {"url": "https://photos.example.com/p/1"},
            {"platform_item_id": "no-url"},
            {"url": "https://PHOTOS.example.com/p/1#again"},
            "not an item",
        ]
    }
    urls = request_urls("takedown-request", body)
    assert urls == ["https://photos.example.com/p/1", "https://PHOTOS.example.com/p/1#again"]
    assert len(url_digests(KEY, urls)) == 1  # one row per content named
    assert request_urls("status-update", body) == []
    assert request_urls("takedown-request", None) == []


def test_what_is_a_url_to_look_for() -> None:
    assert looks_like_url(" https://photos.example.com/p/1")
    assert looks_like_url("HTTP://x")
    assert not looks_like_url("DE-2026-02001")
    assert not looks_like_url("ftp://photos.example.com/p/1")
