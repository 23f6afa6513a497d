"""When two content URLs name the same content, and the keyed digest the hub keeps of one (issue 17).

People search for a case by the URL a victim reported. The hub must not keep that URL in clear to match
it (it keeps the signed messages encrypted with the case's key, `vault`), so at intake it stores, for
each URL of a takedown request, an HMAC-SHA256 of the URL's normal form under a key only the hub holds
(derived from its storage key, so it is kept as that key is: a file outside the database). A search
computes the same digest and looks it up. A copy of the database alone cannot test a guessed URL
against the digests without the key; the purge deletes them with the case's other personal data.

The normal form (`normalised`): surrounding space dropped; scheme and host in lower case (they are
case-insensitive, RFC 3986 6.2.2.1), the scheme's default port dropped (6.2.3), the fragment dropped
(it names a part of the same content, and is never sent to the platform); an empty path is `/`. The
path and query stay exactly as written: on a platform they may be case-sensitive. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit, urlunsplit

DIGEST_CONTEXT = b"referral-hub content-url digest v1"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def looks_like_url(text: str) -> bool:
    return text.strip().lower().startswith(("http://", "https://"))


def normalised(url: str) -> str:
    """The form two URLs share when they name the same content."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    path = parts.path or ("/" if netloc else "")
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def digest_key(storage_key: bytes) -> bytes:
    """The content-URL digest key, derived from the hub's storage key (HMAC as a KDF, its own context),
    so that no second secret has to be kept and the storage key itself never keys a digest."""
    return hmac.new(storage_key, DIGEST_CONTEXT, hashlib.sha256).digest()


def url_digest(key: bytes, url: str) -> bytes:
    """The keyed digest of a content URL's normal form: what the hub stores and looks up."""
    return hmac.new(key, normalised(url).encode("utf-8"), hashlib.sha256).digest()


def request_urls(message_type: str, body: object) -> list[str]:
    """The content URLs a message names that the hub keeps digests of: a takedown request's items."""
    if message_type != "takedown-request" or not isinstance(body, dict):
        return []
    items = body.get("content")
    return [i["url"] for i in items or () if isinstance(i, dict) and isinstance(i.get("url"), str)]


def url_digests(key: bytes, urls: list[str]) -> list[bytes]:
    """One digest per distinct normal form, in the order first named (one HMAC per URL)."""
    return list(dict.fromkeys(url_digest(key, url) for url in urls))
