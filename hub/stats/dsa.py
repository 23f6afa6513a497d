"""Statements of reasons for the EU DSA Transparency Database, from a platform's status updates.

DSA Art. 24(5) has an online platform submit every Art. 17 statement of reasons to the Commission's
Transparency Database; only the platform, with its own API token, can. This module turns the
`statement_of_reasons` that a platform sent in an `actioned` status update into the database's format,
one statement per restricted item, each a JSON object ready to POST to the API's `statement` endpoint
(or, up to 100 at a time, inside `{"statements": [...]}` to its `statements` endpoint).

Followed: the API documentation and validation rules of the database's own source, the "API v2"
submission schema in force since 1 July 2025 (`resources/markdown/api-documentation.md`,
`app/Http/Requests/StatementStoreRequest.php` and `app/Models/Statement.php` of
digital-services-act/transparency-database, as of June 2026). Mapping:

- restriction_type: removed -> decision_visibility DECISION_VISIBILITY_CONTENT_REMOVED; access-disabled
  and geo-blocked -> DECISION_VISIBILITY_CONTENT_DISABLED; demoted -> DECISION_VISIBILITY_CONTENT_DEMOTED;
  account-suspended -> decision_account DECISION_ACCOUNT_SUSPENDED.
- category: STATEMENT_CATEGORY_CYBER_VIOLENCE, the closest official category since v2 removed
  "Non-consensual behaviour"; category_specification KEYWORD_NON_CONSENSUAL_IMAGE_SHARING (intimate
  images, and threats to share them: Directive (EU) 2024/1385 Art. 5 makes both one offence) or
  KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE (digital forgeries). The "against women" variants are not
  used: the victim's gender is personal data the hub does not hold.
- ground illegal-content -> DECISION_GROUND_ILLEGAL_CONTENT with illegal_content_legal_ground and
  illegal_content_explanation both from `legal_ground` (the hub's template states the ground and why in
  one field); terms-of-service -> DECISION_GROUND_INCOMPATIBLE_CONTENT likewise from
  `contractual_ground`, with incompatible_content_illegal "Yes" when a legal ground is given as well.
- automated_detection "No" (the item was identified by a notice, not detected by the platform);
  automated_decision from `automated_means`: AUTOMATED_DECISION_PARTIALLY or _NOT_AUTOMATED.
- source_type SOURCE_TRUSTED_FLAGGER when the notifying hotline is a trusted flagger in the directory
  (its status at export time), else SOURCE_ARTICLE_16; source_identity is left out.
- puid: the item's platform_item_id from the referral when it fits the API's pattern, otherwise
  `hub-<status update id>-<n>`. Never the URL, nor a hash of it, which anyone holding the URL could
  match in the public database.
- territorial_scope: every EU/EEA country for a removal, disabling, demotion or suspension; for a
  geo-block, the EU/EEA countries among the case's jurisdictions ("EU" meaning the 27).

Not filled from the hub's records: content_date (when the platform began hosting the item) is required
but the hub never learns it; a `content_date` in the statement of reasons is used when present,
otherwise the day the hub received the referral, a later bound the platform must replace before it
submits. Optional fields left out: content_language, account_type, end dates (the restriction is taken
as indefinite), decision_ground_reference_url, content_id. Free texts are the platform's own words: URLs
and e-mail addresses in them are removed, but the platform remains responsible (Art. 24(5)) for
keeping personal data out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from hub.core.clock import parse_rfc3339

API_VERSION = "DSA Transparency Database API v2 (submission schema of 1 July 2025)"
EU_COUNTRIES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip
EEA_COUNTRIES = tuple(sorted((*EU_COUNTRIES, "IS", "LI", "NO")))
VISIBILITY = {
    "removed": "DECISION_VISIBILITY_CONTENT_REMOVED",
    "access-disabled": "DECISION_VISIBILITY_CONTENT_DISABLED",
    "geo-blocked": "DECISION_VISIBILITY_CONTENT_DISABLED",
    "demoted": "DECISION_VISIBILITY_CONTENT_DEMOTED",
}
ACCOUNT = {"account-suspended": "DECISION_ACCOUNT_SUSPENDED"}
CATEGORY = "STATEMENT_CATEGORY_CYBER_VIOLENCE"
KEYWORDS = {
    "intimate-image": "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",
    "digital-forgery": "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
    "threat-to-share": "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",
}
CONTENT_TYPES = {
    "intimate-image": ["CONTENT_TYPE_IMAGE"],
    "digital-forgery": ["CONTENT_TYPE_IMAGE", "CONTENT_TYPE_SYNTHETIC_MEDIA"],
    "threat-to-share": ["CONTENT_TYPE_TEXT"],
}
AUTOMATED = {True: "AUTOMATED_DECISION_PARTIALLY", False: "AUTOMATED_DECISION_NOT_AUTOMATED"}
RESTRICTED_OUTCOMES = ("removed", "access-disabled")
_PUID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
# A URL with a scheme, a www. host, or a host name followed by a path (a URL without its scheme).
_URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+|\b(?:[a-z0-9-]+\.)+[a-z]{2,}/\S*", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
REMOVED = "[removed]"


@dataclass(frozen=True)
class StatusUpdateRecord:
    """A platform's status update and the takedown request that opened its case."""

    message_id: str
    accepted_at: datetime
    body: Mapping[str, Any]
    referral_accepted_at: datetime
    referral_body: Mapping[str, Any]
    notifier_trusted_flagger: bool
    jurisdictions: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    message_id: str
    reason: str


@dataclass(frozen=True)
class DsaExport:
    statements: list[dict[str, Any]]
    skipped: list[Skipped]


class NotExportableError(Exception):
    pass


def export_statements(records: Iterable[StatusUpdateRecord]) -> DsaExport:
    """Statements for every status update that carries a statement of reasons; the others are
    skipped, and those with one that cannot be exported are listed with the reason."""
    statements: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    for record in records:
        if not isinstance(record.body.get("statement_of_reasons"), Mapping):
            continue
        try:
            statements.extend(statements_for(record))
        except NotExportableError as exc:
            skipped.append(Skipped(record.message_id, str(exc)))
    return DsaExport(statements, skipped)


def statements_for(record: StatusUpdateRecord) -> list[dict[str, Any]]:
    body, sor = record.body, record.body["statement_of_reasons"]
    if body.get("status") != "actioned":
        raise NotExportableError("the status update does not report a restriction")
    restriction = str(sor.get("restriction_type"))
    category = str(record.referral_body.get("category"))
    if category not in KEYWORDS:
        raise NotExportableError("the referral's category has no DSA mapping")
    scope = _territorial_scope(restriction, record.jurisdictions)
    shared: dict[str, Any] = {
        **_decision(restriction),
        **_ground(sor, _secrets(record.referral_body)),
        "content_type": list(CONTENT_TYPES[category]),
        "category": CATEGORY,
        "category_specification": [KEYWORDS[category]],
        "territorial_scope": list(scope),
        "content_date": _content_date(sor, record.referral_accepted_at),
        "application_date": _day_of(body.get("decided_at"), record.accepted_at),
        "decision_facts": redact(str(sor.get("facts", "")), _secrets(record.referral_body))[:5000],
        "source_type": "SOURCE_TRUSTED_FLAGGER" if record.notifier_trusted_flagger else "SOURCE_ARTICLE_16",
        "automated_detection": "No",
        "automated_decision": AUTOMATED[bool(sor.get("automated_means"))],
    }
    puids = _puids(record)
    if not puids:
        raise NotExportableError("no reported item was restricted")
    return [{**shared, "puid": puid} for puid in puids]


def _decision(restriction: str) -> dict[str, Any]:
    if restriction in VISIBILITY:
        return {"decision_visibility": [VISIBILITY[restriction]]}
    if restriction in ACCOUNT:
        return {"decision_account": ACCOUNT[restriction]}
    raise NotExportableError("unknown restriction type")


def _ground(sor: Mapping[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    legal = redact(str(sor.get("legal_ground") or ""), secrets)
    contractual = redact(str(sor.get("contractual_ground") or ""), secrets)
    if sor.get("ground") == "illegal-content" and legal:
        return {
            "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
            "illegal_content_legal_ground": legal[:500],
            "illegal_content_explanation": legal[:2000],
        }
    if sor.get("ground") == "terms-of-service" and contractual:
        ground: dict[str, Any] = {
            "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            "incompatible_content_ground": contractual[:500],
            "incompatible_content_explanation": contractual[:2000],
        }
        if legal:
            ground["incompatible_content_illegal"] = "Yes"
        return ground
    raise NotExportableError("the statement of reasons names no ground the database accepts")


def _territorial_scope(restriction: str, jurisdictions: Sequence[str]) -> tuple[str, ...]:
    if restriction != "geo-blocked":
        return EEA_COUNTRIES
    countries: set[str] = set()
    for jurisdiction in jurisdictions:
        if jurisdiction == "EU":
            countries.update(EU_COUNTRIES)
        elif jurisdiction in EEA_COUNTRIES:
            countries.add(jurisdiction)
    if not countries:
        raise NotExportableError("the item was geo-blocked outside the EU and EEA")
    return tuple(sorted(countries))


def _day_of(value: object, fallback: datetime) -> str:
    moment = fallback
    if isinstance(value, str):
        try:
            moment = parse_rfc3339(value)
        except ValueError:
            moment = fallback
    return moment.astimezone(UTC).date().isoformat()


def _content_date(sor: Mapping[str, Any], referral_accepted_at: datetime) -> str:
    given = sor.get("content_date")
    if isinstance(given, str):
        try:
            return date.fromisoformat(given).isoformat()
        except ValueError:
            pass
    return referral_accepted_at.astimezone(UTC).date().isoformat()


def _restricted_locators(record: StatusUpdateRecord) -> list[Mapping[str, Any]]:
    content = [c for c in record.referral_body.get("content", []) if isinstance(c, Mapping)]
    items = record.body.get("items")
    if not isinstance(items, list):
        return content
    chosen: list[Mapping[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping) or item.get("outcome") not in RESTRICTED_OUTCOMES:
            continue
        chosen.append(next((c for c in content if _same_item(c, item)), item))
    return chosen


def _same_item(locator: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    return any(item.get(key) and locator.get(key) == item.get(key) for key in ("url", "platform_item_id"))


def _puids(record: StatusUpdateRecord) -> list[str]:
    puids: list[str] = []
    for n, locator in enumerate(_restricted_locators(record), start=1):
        item_id = locator.get("platform_item_id")
        puid = item_id if isinstance(item_id, str) and _PUID.match(item_id) else None
        puid = puid or f"hub-{record.message_id}-{n}"
        if puid not in puids:
            puids.append(puid)
    return puids


def _secrets(referral_body: Mapping[str, Any]) -> list[str]:
    """The referral's URLs and their hosts: never to appear in a statement."""
    found: list[str] = []
    for locator in referral_body.get("content", []):
        url = locator.get("url") if isinstance(locator, Mapping) else None
        if isinstance(url, str):
            found.append(url)
            host = url.split("://", 1)[-1].split("/", 1)[0].split("@")[-1].split(":")[0]
            if host:
                found.append(host)
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """The text without URLs, e-mail addresses, or any of `secrets` (case-insensitive)."""
    text = _URL.sub(REMOVED, text)
    text = _EMAIL.sub(REMOVED, text)
    for secret in secrets:  # and anything that follows one without a space (a path)
        text = re.sub(r"\b" + re.escape(secret) + r"\S*", REMOVED, text, flags=re.IGNORECASE)
    return text.strip()
