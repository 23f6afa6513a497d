"""The DSA Transparency Database export: a platform's statement of reasons, sent in a status update,
becomes a statement with every field the database requires and only values it accepts; trusted-flagger
notices are marked so; no URL and no personal data leave the hub; `hub dsa-export` writes them.

`check_statement` restates the database's validation rules (API v2, `StatementStoreRequest.php` and
`Statement.php` of digital-services-act/transparency-database) independently of `hub/stats/dsa.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub.core.clock import rfc3339
from hub.settings import Settings
from hub.stats.dsa import StatusUpdateRecord, export_statements, statements_for
from hub.stats.figures import parse_period
from hub.store.stats import platform_status_updates
from tests.factories import Api, Directory, FakeClock, Member, keyring_of, reply, run_hub, takedown
from tests.test_stats import YEAR, hub_env

T0 = datetime(YEAR, 5, 4, 8, 0, tzinfo=UTC)

DECISION_VISIBILITIES = {
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
}
DECISION_ACCOUNTS = {"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"}
DECISION_GROUNDS = {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
CONTENT_TYPES = {
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
}
CATEGORIES = {
    "STATEMENT_CATEGORY_ANIMAL_WELFARE",
    "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE",
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "STATEMENT_CATEGORY_VIOLENCE",
}
# The v2 keywords about intimate material and harassment (the full list has about 70).
KEYWORDS = {
    "KEYWORD_ADULT_SEXUAL_MATERIAL",
    "KEYWORD_CYBER_HARASSMENT",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN",
    "KEYWORD_NUDITY",
    "KEYWORD_OTHER",
}
SOURCE_TYPES = {
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
}
AUTOMATED_DECISIONS = {
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
}
EEA = set(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
EU = EEA - {"IS", "LI", "NO"}
REQUIRED = {
    "decision_ground",
    "content_type",
    "category",
    "territorial_scope",
    "content_date",
    "application_date",
    "decision_facts",
    "source_type",
    "automated_detection",
    "automated_decision",
    "puid",
}


def _date(value: Any, low: str, high: str = "2038-01-01") -> bool:
    return (
        isinstance(value, str)
        and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
        and (date.fromisoformat(low) <= date.fromisoformat(value) <= date.fromisoformat(high))
    )


def check_statement(s: dict[str, Any]) -> None:
    """Fails unless the Transparency Database would accept `s` (its API v2 validation rules)."""
    assert set(s) >= REQUIRED, REQUIRED - set(s)
    assert "decision_visibility" in s or "decision_account" in s  # or monetary / provision
    assert set(s.get("decision_visibility", [])) <= DECISION_VISIBILITIES
    assert s.get("decision_account", "DECISION_ACCOUNT_SUSPENDED") in DECISION_ACCOUNTS
    assert s["decision_ground"] in DECISION_GROUNDS
    if s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT":
        assert 0 < len(s["illegal_content_legal_ground"]) <= 500
        assert 0 < len(s["illegal_content_explanation"]) <= 2000
        assert not {k for k in s if k.startswith("incompatible_")}
    else:
        assert 0 < len(s["incompatible_content_ground"]) <= 500
        assert 0 < len(s["incompatible_content_explanation"]) <= 2000
        assert s.get("incompatible_content_illegal", "No") in ("Yes", "No")
        assert not {k for k in s if k.startswith("illegal_")}
    assert s["content_type"]
    assert set(s["content_type"]) <= CONTENT_TYPES
    assert s["category"] in CATEGORIES
    assert set(s.get("category_specification", [])) <= KEYWORDS
    assert s["territorial_scope"]
    assert set(s["territorial_scope"]) <= EEA
    assert _date(s["content_date"], "2000-01-01")
    assert _date(s["application_date"], "2020-01-01")
    assert 0 < len(s["decision_facts"]) <= 5000
    assert s["source_type"] in SOURCE_TYPES
    assert s["automated_detection"] in ("Yes", "No")
    assert s["automated_decision"] in AUTOMATED_DECISIONS
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", s["puid"])
    assert len(s["puid"]) <= 500


FACTS = (
    "Following an Art. 16 notice from a hotline about https://photos.example.com/p/test-0001 (reported "
    "also as photos.example.com/p/test-0001), the item was reviewed by a moderator; questions to "
    "uploader.person@example.org were not needed."
)


def statement_of_reasons(**overrides: Any) -> dict[str, Any]:
    sor = {
        "restriction_type": "removed",
        "facts": FACTS,
        "automated_means": False,
        "ground": "illegal-content",
        "legal_ground": "Directive (EU) 2024/1385 Art. 5: sharing intimate images without consent.",
        "redress": ["internal-complaint", "out-of-court-settlement", "judicial-redress"],
    }
    sor.update(overrides)
    return sor


def actioned(platform: Member, to: Member, case_id: str, request_id: str, **body: Any) -> dict[str, Any]:
    content = {"status": "actioned", "action": "removed", "decided_at": rfc3339(T0), **body}
    return reply("status-update", platform, to, case_id, request_id, content)


CONTENT = [
    {"url": "https://photos.example.com/p/test-0001", "platform_item_id": "post_8841"},
    {"url": "https://photos.example.com/p/test-0002"},
]


async def test_a_statement_of_reasons_becomes_valid_statements_without_urls(
    settings: Settings,
    db: asyncpg.Connection,
    directory: Directory,
    aiohttp_client: Any,
    database_url: str,
    tmp_path: Path,
) -> None:
    from hub.api.app import create_app

    flagger = await directory.add("de-hotline-test", "hotline", "DE")
    hotline = await directory.add("nl-hotline-test", "hotline", "NL")
    platform = await directory.add("platform-a", "platform", "IE")
    await db.execute("UPDATE participants SET trusted_flagger = true WHERE id = $1", flagger.id)
    clock = FakeClock(T0)
    api = Api(await aiohttp_client(create_app(settings, clock=clock, background=False)), clock)

    flagged = takedown(flagger, platform, content=CONTENT)
    case_1 = (await api.accepted(flagger, flagged))["case_id"]
    plain = takedown(hotline, platform, category="digital-forgery")
    case_2 = (await api.accepted(hotline, plain))["case_id"]
    untouched = takedown(hotline, platform)
    case_3 = (await api.accepted(hotline, untouched))["case_id"]
    clock.advance(hours=5)
    items = [
        {"url": CONTENT[0]["url"], "outcome": "removed"},
        {"url": CONTENT[1]["url"], "outcome": "removed"},
    ]
    update_1 = actioned(
        platform, flagger, case_1, flagged["id"], items=items, statement_of_reasons=statement_of_reasons()
    )
    await api.accepted(platform, update_1)
    clock.advance(minutes=1)  # the export is in the order the hub accepted the updates
    sor_2 = statement_of_reasons(automated_means=True, restriction_type="access-disabled")
    await api.accepted(platform, actioned(platform, hotline, case_2, plain["id"], statement_of_reasons=sor_2))
    clock.advance(minutes=1)
    await api.accepted(platform, actioned(platform, hotline, case_3, untouched["id"]))  # no statement

    period = parse_period(f"{YEAR}-05-01", f"{YEAR}-06-01", T0)
    export = export_statements(await platform_status_updates(db, platform.id, period, keyring_of(settings)))
    assert export.skipped == []
    first, second, third = export.statements
    for statement in export.statements:
        check_statement(statement)
        text = json.dumps(statement)
        for secret in (
            "http",
            "photos.example.com",
            "/p/test-",
            "@",
            "uploader",
            "Fictitious",
            flagger.id,
            hotline.id,
            flagged["body"]["authorisation"]["reference"],
            flagged["body"]["illegality"]["explanation"],
        ):
            assert secret not in text, secret

    # Trusted flagger, one statement per restricted item: the platform's id, or a hub id (never the URL).
    assert first["source_type"] == second["source_type"] == "SOURCE_TRUSTED_FLAGGER"
    assert first["puid"] == "post_8841"
    assert second["puid"] == f"hub-{update_1['id']}-2"
    assert first["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert first["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert first["illegal_content_legal_ground"].startswith("Directive (EU) 2024/1385 Art. 5")
    assert first["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    assert first["category_specification"] == ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"]
    assert first["content_type"] == ["CONTENT_TYPE_IMAGE"]
    assert first["automated_detection"] == "No"
    assert first["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert first["application_date"] == T0.date().isoformat()
    assert first["content_date"] == T0.date().isoformat()  # the hub's later bound: see hub/stats/dsa.py
    assert set(first["territorial_scope"]) == EEA
    assert "[removed]" in first["decision_facts"]
    assert "moderator" in first["decision_facts"]

    # An ordinary notice about a digital forgery, with automated help in the decision.
    assert third["source_type"] == "SOURCE_ARTICLE_16"
    assert third["puid"] == plain["body"]["content"][0]["platform_item_id"]
    assert third["category_specification"] == ["KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"]
    assert third["content_type"] == ["CONTENT_TYPE_IMAGE", "CONTENT_TYPE_SYNTHETIC_MEDIA"]
    assert third["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert third["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"

    # `hub dsa-export` writes the same statements, one a line; a batch for the `statements` endpoint.
    env = hub_env(database_url, tmp_path)
    window = ("--from", f"{YEAR}-05-01", "--to", f"{YEAR}-06-01")
    code, out, err = await run_hub("dsa-export", "--platform", platform.id, *window, env=env)
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == export.statements
    assert "3 statements" in err
    batch = tmp_path / "batch.json"
    code, _, err = await run_hub(
        "dsa-export", "--platform", platform.id, *window, "--format", "batch", "--out", str(batch), env=env
    )
    assert code == 0, err
    assert json.loads(batch.read_text("utf-8")) == {"statements": export.statements}
    code, _, err = await run_hub("dsa-export", "--platform", hotline.id, env=env)
    assert code == 2
    assert "not a platform" in err


def record(**overrides: Any) -> StatusUpdateRecord:
    base = StatusUpdateRecord(
        message_id="7d0c1c9e-0d1c-4f57-9a0f-7d6c4d1f9b10",
        accepted_at=T0,
        body={
            "status": "actioned",
            "action": "removed",
            "decided_at": "2027-05-04T09:30:00Z",
            "statement_of_reasons": statement_of_reasons(),
        },
        referral_accepted_at=T0,
        referral_body={"category": "intimate-image", "content": [{"url": CONTENT[1]["url"]}]},
        notifier_trusted_flagger=False,
        jurisdictions=("EU",),
    )
    return replace(base, **overrides)


def with_sor(**sor: Any) -> StatusUpdateRecord:
    body = {**record().body, "statement_of_reasons": statement_of_reasons(**sor)}
    return record(body=body)


def test_a_url_only_item_gets_a_hub_puid_and_the_decision_day() -> None:
    [statement] = statements_for(record())
    check_statement(statement)
    assert statement["puid"] == "hub-7d0c1c9e-0d1c-4f57-9a0f-7d6c4d1f9b10-1"
    assert statement["application_date"] == "2027-05-04"


def test_terms_of_service_ground() -> None:
    [statement] = statements_for(
        with_sor(
            ground="terms-of-service",
            contractual_ground="Rules s. 4: no intimate "
            "images shared without the consent of the people shown.",
        )
    )
    check_statement(statement)
    assert statement["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert statement["incompatible_content_ground"].startswith("Rules s. 4")
    assert statement["incompatible_content_illegal"] == "Yes"  # a legal ground was given too


def test_geo_block_scope_and_account_suspension() -> None:
    geo = replace(with_sor(restriction_type="geo-blocked"), jurisdictions=("EU", "US"))
    [statement] = statements_for(geo)
    check_statement(statement)
    assert set(statement["territorial_scope"]) == EU
    only_us = replace(geo, jurisdictions=("US",))
    assert export_statements([only_us]).skipped[0].reason == "the item was geo-blocked outside the EU and EEA"

    [suspended] = statements_for(with_sor(restriction_type="account-suspended"))
    check_statement(suspended)
    assert suspended["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert "decision_visibility" not in suspended


def test_threats_and_content_dates() -> None:
    threat = record(referral_body={**record().referral_body, "category": "threat-to-share"})
    [statement] = statements_for(threat)
    assert statement["content_type"] == ["CONTENT_TYPE_TEXT"]
    assert statement["category_specification"] == ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"]
    [dated] = statements_for(with_sor(content_date="2026-12-24"))
    assert dated["content_date"] == "2026-12-24"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {
                "status": "declined",
                "decline_reason": "Not found on the service at review time.",
                "statement_of_reasons": statement_of_reasons(),
            },
            "the status update does not report a restriction",
        ),
        (
            {
                "status": "actioned",
                "action": "removed",
                "items": [{"url": CONTENT[1]["url"], "outcome": "not-found"}],
                "statement_of_reasons": statement_of_reasons(),
            },
            "no reported item was restricted",
        ),
        (
            {
                "status": "actioned",
                "action": "removed",
                "statement_of_reasons": statement_of_reasons(ground="terms-of-service"),
            },
            "the statement of reasons names no ground the database accepts",
        ),
    ],
)
def test_statements_that_cannot_be_exported_are_listed(body: dict[str, Any], reason: str) -> None:
    export = export_statements([record(body=body), record(body={"status": "in-review"})])
    assert export.statements == []
    assert [(s.message_id, s.reason) for s in export.skipped] == [(record().message_id, reason)]
