"""Whether an e-mailed answer comes from the platform it claims to (pure: parsed facts in, a decision out).

The reply address of a notice is a bearer secret: it travels in `Reply-To` into ticket systems and
forwards, so knowing it proves nothing about who writes. An answer may change a case only when its
origin is authenticated, in one of three ways (the first that holds is named in the decision):

- `pinned-dkim`: the participant pinned DKIM keys in its adapter configuration; a signature that
  verifies with one of them. A participant that pins keys is authenticated by them alone: the pin is
  its promise that no other key, and no other check, speaks for it (no DNS is asked).
- `dkim`: a DKIM signature (RFC 6376) that the hub verified itself with the key its signing domain
  publishes, whose `d=` is aligned with the From address's domain.
- `mx-dmarc` / `mx-dkim`: a DMARC pass (`header.from` = the From domain), or a DKIM pass with an aligned
  `header.d`, recorded in `Authentication-Results` (RFC 8601) by a mail server the operator trusts:
  the topmost such header whose authserv-id the operator named. That server must remove headers with
  its authserv-id from the mail it receives (RFC 8601 section 5); the topmost is the one it added.

In every case the From header must be exactly one mailbox whose addr-spec (its display name is never
read) is one of the addresses the participant registered to answer from, the envelope sender must not
be null (bounces and auto-replies are no answers), and the mail must be addressed (its one To or Cc
header) to the reply address it was delivered to. A signature counts only if it signs the From header,
the header holding that reply address, and the whole body (no `l=`, which leaves the rest unsigned):
so a platform's signed answer to one case cannot be replayed to another case's reply address (the
envelope recipient is not signed; the To header is). A trusted MX's verdict does not say which headers
were signed: there only the addressing is checked.

A signature of the platform's domain whose key could not be fetched (a DNS timeout) decides nothing:
the decision is then `temporary` and the mail is to be offered again later, as an MX defers on a DKIM
temperror.

Alignment is DMARC's relaxed alignment within the registered domain: the signing domain is the From
domain, a parent of it or a subdomain of it, with at least two labels (never a bare top-level domain).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Fault(StrEnum):
    """Why an e-mail is not taken as the platform's answer. The first three mean it does not even claim
    to come from a registered address (`spoofed`); the others that its claim is not proven."""

    FROM_MALFORMED = "from-malformed"
    SENDER_NOT_REGISTERED = "sender-not-registered"
    NULL_SENDER = "null-envelope-sender"
    NOT_ADDRESSED = "not-addressed-to-reply-address"
    NO_SIGNATURE = "no-signature"
    SIGNATURE_INVALID = "signature-invalid"
    SIGNATURE_NOT_ALIGNED = "signature-not-aligned"
    SIGNATURE_PARTIAL = "signature-partial"
    PINNED_KEY_REQUIRED = "pinned-key-required"
    KEY_UNAVAILABLE = "key-unavailable"  # the signing key's DNS lookup timed out: try again later


SPOOFING = frozenset({Fault.FROM_MALFORMED, Fault.SENDER_NOT_REGISTERED, Fault.NULL_SENDER})


@dataclass(frozen=True)
class DkimCheck:
    """One DKIM-Signature header as verified at the edge (dkimpy)."""

    domain: str  # d=, lower case
    selector: str  # s=
    valid: bool  # the body hash and the signature verified with the key found
    pinned: bool  # the key was one the participant pinned (not looked up in DNS)
    signs_from: bool = False  # `from` is among the signed headers (h=)
    signs_recipient: bool = False  # the To or Cc header that holds the reply address is signed
    whole_body: bool = False  # no l= tag
    key_unavailable: bool = False  # the key's lookup timed out (DNS): not known to be invalid


@dataclass(frozen=True)
class AuthenticationResults:
    """One Authentication-Results header: who wrote it and its results (method -> result, properties)."""

    authserv_id: str
    results: tuple[MethodResult, ...] = ()


@dataclass(frozen=True)
class MethodResult:
    method: str  # dkim, dmarc, spf, ... lower case
    result: str  # pass, fail, none, ... lower case
    properties: Mapping[str, str] = field(default_factory=dict)  # e.g. header.d, header.from (lower case)


@dataclass(frozen=True)
class MailFacts:
    """What the edge read from one e-mail: never its content, only its origin."""

    from_address: str | None  # the From header's one addr-spec, lower case; None when not exactly one
    envelope_sender: str  # MAIL FROM, '' for the null sender
    addressed: bool = False  # the one To or Cc header holds the reply address the mail was delivered to
    dkim: tuple[DkimCheck, ...] = ()
    authentication_results: tuple[AuthenticationResults, ...] = ()  # in header order, topmost first


@dataclass(frozen=True)
class SenderPolicy:
    """Who may answer for the participant, and whom the operator trusts to have checked."""

    registered: frozenset[str]  # addresses, lower case
    pins_keys: bool = False
    trusted_authserv_ids: frozenset[str] = frozenset()  # lower case


@dataclass(frozen=True)
class Decision:
    authenticated: bool
    method: str | None = None  # pinned-dkim, dkim, mx-dmarc, mx-dkim
    domain: str | None = None  # the domain that vouched (d= or the DMARC From domain)
    fault: Fault | None = None
    selector: str | None = None  # the DKIM key's selector, when the hub verified the signature itself

    @property
    def spoofed(self) -> bool:
        return self.fault in SPOOFING

    @property
    def temporary(self) -> bool:
        """Not decided yet: the mail should be offered again later (SMTP 451), nothing kept of it now."""
        return self.fault is Fault.KEY_UNAVAILABLE

    def record(self) -> dict[str, str]:
        """What is kept of the decision (identifiers and codes, no address)."""
        if self.authenticated:
            found = {"method": str(self.method), "domain": str(self.domain)}
            return found | ({"selector": self.selector} if self.selector else {})
        return {"fault": str(self.fault)}


def aligned(signing_domain: str, from_domain: str) -> bool:
    """DMARC relaxed alignment without a public-suffix list: the same domain, or one under the other,
    never a single label."""
    d, f = signing_domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if d.count(".") < 1 or f.count(".") < 1:
        return False
    return d == f or f.endswith("." + d) or d.endswith("." + f)


def authenticate(facts: MailFacts, policy: SenderPolicy) -> Decision:
    """The one rule: is this e-mail the registered platform's own answer?"""
    sender = facts.from_address
    if sender is None:
        return Decision(False, fault=Fault.FROM_MALFORMED)
    if sender not in policy.registered:
        return Decision(False, fault=Fault.SENDER_NOT_REGISTERED)
    if not facts.envelope_sender.strip().strip("<>"):
        return Decision(False, fault=Fault.NULL_SENDER)
    if not facts.addressed:
        return Decision(False, fault=Fault.NOT_ADDRESSED)
    from_domain = sender.rpartition("@")[2]
    if policy.pins_keys:
        return _by_signature(facts, from_domain, pinned=True) or Decision(
            False, fault=Fault.PINNED_KEY_REQUIRED
        )
    found = _by_signature(facts, from_domain, pinned=False) or _by_trusted_mx(facts, policy, from_domain)
    return found or Decision(False, fault=_why_not(facts, from_domain))


def _by_signature(facts: MailFacts, from_domain: str, *, pinned: bool) -> Decision | None:
    for check in facts.dkim:
        if check.pinned == pinned and _counts(check) and aligned(check.domain, from_domain):
            method = "pinned-dkim" if pinned else "dkim"
            return Decision(True, method, check.domain.lower(), selector=check.selector)
    return None


def _counts(check: DkimCheck) -> bool:
    return check.valid and check.signs_from and check.signs_recipient and check.whole_body


def _by_trusted_mx(facts: MailFacts, policy: SenderPolicy, from_domain: str) -> Decision | None:
    header = next(
        (h for h in facts.authentication_results if h.authserv_id.lower() in policy.trusted_authserv_ids),
        None,
    )
    if header is None:
        return None
    for result in header.results:
        if result.result != "pass":
            continue
        if result.method == "dmarc" and result.properties.get("header.from", "") == from_domain:
            return Decision(True, "mx-dmarc", from_domain)
        if result.method == "dkim":
            domain = _dkim_domain(result.properties)
            if domain and aligned(domain, from_domain):
                return Decision(True, "mx-dkim", domain)
    return None


def _dkim_domain(properties: Mapping[str, str]) -> str | None:
    if properties.get("header.d"):
        return properties["header.d"]
    identity = properties.get("header.i", "")
    return identity.rpartition("@")[2] or None


def _why_not(facts: MailFacts, from_domain: str) -> Fault:
    valid = [c for c in facts.dkim if c.valid]
    if any(c.key_unavailable and aligned(c.domain, from_domain) for c in facts.dkim):
        return Fault.KEY_UNAVAILABLE
    if not facts.dkim:
        return Fault.NO_SIGNATURE
    if not valid:
        return Fault.SIGNATURE_INVALID
    if any(aligned(c.domain, from_domain) for c in valid):
        return Fault.SIGNATURE_PARTIAL
    return Fault.SIGNATURE_NOT_ALIGNED
