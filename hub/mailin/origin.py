"""The facts of a reply's origin, for `hub.core.mail_auth` to decide on: the strict From address, each
DKIM signature verified with dkimpy (a maintained RFC 6376 implementation), and the
Authentication-Results headers.

Keys come from DNS through dkimpy's `dnsfunc`, which is injectable (`DnsLookup`): tests give a table of
test keys, a deployment the default resolver (dnspython). A participant that pinned keys is checked
against them only: the lookup then answers from its configuration and never asks DNS. dkimpy's own
logging is silenced (its debug lines quote signature fields, which may name addresses). At most
`MAX_SIGNATURES` signatures are checked, each lookup bounded by the DNS timeout setting; DKIM is
synchronous, so the receiver runs this in a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import dkim
import dkim.dnsplug
import dkim.util

from adapters.email import PinnedDkimKey
from hub.core.mail_auth import DkimCheck, MailFacts
from hub.mailin.headers import addressed_in, authentication_results, parse_headers, strict_from

DnsLookup = Callable[..., bytes | None]  # dkimpy's dnsfunc: (name, timeout=...) -> the TXT record or None
MAX_SIGNATURES = 5

_QUIET = logging.Logger("hub.mailin.dkimpy")  # not in the logging tree: nothing propagates
_QUIET.disabled = True


def read_facts(
    raw: bytes,
    envelope_sender: str,
    reply_address: str,
    pinned: Sequence[PinnedDkimKey],
    dns: DnsLookup | None,
    timeout: float,
) -> MailFacts:
    message = parse_headers(raw)
    addressed = addressed_in(message, reply_address)
    return MailFacts(
        from_address=strict_from(message),
        envelope_sender=envelope_sender,
        addressed=bool(addressed),
        dkim=verify_signatures(raw, addressed, pinned, dns, timeout),
        authentication_results=authentication_results(message),
    )


def verify_signatures(
    raw: bytes,
    addressed: frozenset[str],
    pinned: Sequence[PinnedDkimKey],
    dns: DnsLookup | None,
    timeout: float,
) -> tuple[DkimCheck, ...]:
    """Each signature checked; `addressed` names the headers (to, cc) holding the reply address."""
    try:
        verifier = dkim.DKIM(raw, logger=_QUIET, timeout=max(1, round(timeout)))
    except Exception:  # a message dkimpy cannot even split into headers carries no signature we can use
        return ()
    lookup = _Lookup(_pinned_lookup(pinned) if pinned else (dns or dkim.dnsplug.get_txt))
    headers = [value for name, value in verifier.headers if name.lower() == b"dkim-signature"]
    checks = []
    for index, value in enumerate(headers[:MAX_SIGNATURES]):
        fields = _tags(value)
        if fields is None:  # not a tag list: no domain to name, nothing to check
            continue
        lookup.timed_out = False
        try:
            valid = bool(verifier.verify(idx=index, dnsfunc=lookup))
        except Exception:  # a malformed signature or key (dkimpy raises several kinds): no proof
            valid = False
        signed = [h.strip().lower() for h in fields.get(b"h", b"").split(b":")]
        checks.append(
            DkimCheck(
                domain=_text(fields.get(b"d", b"")).lower(),
                selector=_text(fields.get(b"s", b"")),
                valid=valid,
                pinned=bool(pinned),
                signs_from=b"from" in signed,
                signs_recipient=any(name.encode() in signed for name in addressed),
                whole_body=b"l" not in fields,
                key_unavailable=lookup.timed_out and not valid,
            )
        )
    return tuple(checks)


class _Lookup:
    """The DNS lookup given to dkimpy, noting a timeout (which dkimpy turns into a mere failure): a key
    that could not be fetched now is no forgery, and the sender's server should try again later."""

    def __init__(self, lookup: DnsLookup) -> None:
        self._lookup = lookup
        self.timed_out = False

    def __call__(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        try:
            return self._lookup(name, timeout=timeout)
        except dkim.DnsTimeoutError:
            self.timed_out = True
            raise


def _tags(value: bytes) -> dict[bytes, bytes] | None:
    try:
        fields = dkim.util.parse_tag_value(value)
    except Exception:  # dkimpy's InvalidTagValueList, or worse on hostile input
        return None
    return dict(fields)


def _pinned_lookup(pinned: Sequence[PinnedDkimKey]) -> DnsLookup:
    records = {f"{k.selector}._domainkey.{k.domain}.".lower(): k.record.encode("ascii") for k in pinned}

    def lookup(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        return records.get(text.lower())

    return lookup


def _text(value: bytes) -> str:
    return value.decode("ascii", "replace").strip()
