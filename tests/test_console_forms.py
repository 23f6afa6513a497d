"""Forms from the templates, posted values to JSON, the validator's faults at their fields, sealing.

Pure: the hub's own validator (`TemplateCatalog`) is the judge of every envelope built here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.console.form_data import (
    MISSING,
    Sealed,
    collect,
    form_values,
    map_faults,
    placeholder_sealed,
    replace_sealed,
    shift_entries,
)
from hub.console.render import countdown, deadline_text
from hub.console.schema_form import Field, FormBuilder, TemplateForm, Widget, sealed_parts
from hub.console.sealing import NoEncryptionKeyError, encryption_key, open_all, open_value, seal_to
from hub.core.clock import rfc3339, utc_now
from hub.core.jose import PrivateEncryptionJwk
from hub.core.templates import TemplateCatalog
from tests.console_helpers import CONTACT_EMAIL, takedown_values

HOTLINE, PLATFORM = "de-hotline-forms", "ie-platform-forms"


def takedown_form(catalog: TemplateCatalog, counts: dict[str, int] | None = None) -> TemplateForm:
    to = Field("/to", "to", "Send to", "", Widget.RECIPIENTS, True, options=((PLATFORM, PLATFORM),))
    return FormBuilder(catalog, counts).template("takedown-request", "1.0", [to])


def posted(values: dict[str, Any]) -> dict[str, list[str]]:
    pairs = [(k, one) for k, v in values.items() for one in (v if isinstance(v, list) else [v])]
    return form_values(pairs)


def envelope_of(form: TemplateForm, values: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": form.name,
        "version": form.version,
        "from": HOTLINE,
        "to": collect(form.envelope[0], values),
        "created_at": rfc3339(utc_now()),
        "body": collect(form.body, values),
    }


def by_pointer(form: TemplateForm) -> dict[str, Field]:
    return {f.pointer: f for f in form.fields()}


def test_the_takedown_form_follows_its_schema(catalog: TemplateCatalog) -> None:
    fields = by_pointer(takedown_form(catalog))
    assert fields["/body/category"].widget == Widget.SELECT
    assert [v for v, _ in fields["/body/category"].options] == [
        "intimate-image",
        "digital-forgery",
        "threat-to-share",
    ]
    assert fields["/body/non_consent_statement/affirmed"].widget == Widget.AFFIRM
    assert fields["/body/content"].widget == Widget.REPEAT
    assert fields["/body/content/0/url"].widget == Widget.TEXT
    assert fields["/body/illegality/explanation"].widget == Widget.TEXTAREA
    assert fields["/body/jurisdictions"].widget == Widget.LINES
    assert fields["/body/identical_copies"].widget == Widget.YESNO
    contact = fields["/body/contact"]
    assert contact.widget == Widget.SEALED
    assert contact.required
    assert [p.name for p in contact.parts] == ["name", "email", "phone", "postal_address"]
    assert fields["/body/authorisation/signed_at"].timestamp
    assert "/body/minor_depicted" in fields
    assert all(f.label for f in fields.values())


def test_status_update_offers_the_statement_of_reasons(catalog: TemplateCatalog) -> None:
    form = FormBuilder(catalog).template("status-update", "1.0", [])
    fields = by_pointer(form)
    assert fields["/body/statement_of_reasons"].widget == Widget.GROUP
    assert not fields["/body/statement_of_reasons"].required
    assert fields["/body/statement_of_reasons/redress"].widget == Widget.CHOICES
    assert fields["/body/decided_at"].conditional
    assert not form.opens_case


def test_valid_values_make_an_envelope_the_hub_accepts(catalog: TemplateCatalog) -> None:
    form = takedown_form(catalog)
    values = posted(takedown_values(PLATFORM))
    envelope = envelope_of(form, values)
    assert envelope["body"]["contact"] == Sealed({"email": CONTACT_EMAIL})
    assert envelope["body"]["identical_copies"] is True
    key = PrivateEncryptionJwk.generate("platform-enc")
    sealed = replace_sealed(envelope, lambda marker: seal_to(marker.plaintext, [(PLATFORM, key.public())]))
    assert catalog.validate(sealed) == []
    assert catalog.validate(replace_sealed(envelope, placeholder_sealed([PLATFORM]))) == []
    opened = open_all(sealed["body"], PLATFORM, key)
    assert opened["contact"].members == {"email": CONTACT_EMAIL}


def test_an_invalid_value_gets_the_schemas_message_at_its_field(catalog: TemplateCatalog) -> None:
    form = takedown_form(catalog)
    values = posted(takedown_values(PLATFORM, **{"/body/content/0/url": "ftp://photos.example.com/1"}))
    envelope = replace_sealed(envelope_of(form, values), placeholder_sealed([PLATFORM]))
    faults = catalog.validate(envelope)
    errors = map_faults(form, faults)
    assert [f.pointer for f in faults] == ["/body/content/0/url"]
    said = "Give the full web address, starting with https://"  # plain words, not the schema's
    assert errors.by_field == {"/body/content/0/url": [said]}
    assert errors.summary == [("f-body-content-0-url", "Web address (URL)", said)]


def test_missing_and_malformed_entries_land_where_they_belong(catalog: TemplateCatalog) -> None:
    form = takedown_form(catalog)
    values = takedown_values(PLATFORM, **{"/body/jurisdictions": "EU\nIreland"})
    del values["/body/illegality/explanation"], values["/body/contact#email"]
    envelope = replace_sealed(envelope_of(form, posted(values)), placeholder_sealed([PLATFORM]))
    errors = map_faults(form, catalog.validate(envelope))
    assert errors.by_field["/body/illegality/explanation"] == ["Fill this in"]
    assert errors.by_field["/body/contact"] == ["Fill this in"]
    assert errors.by_field["/body/jurisdictions"] == [
        "Entry 2: Give two-letter country codes in capitals, like IE, or EU"
    ]


def test_no_recipient_chosen_is_said_at_the_recipients(catalog: TemplateCatalog) -> None:
    form = takedown_form(catalog)
    values = takedown_values(PLATFORM)
    del values["/to"]
    envelope = envelope_of(form, posted(values))
    envelope["to"] = []
    errors = map_faults(form, catalog.validate(replace_sealed(envelope, placeholder_sealed([]))))
    assert list(errors.by_field) == ["/to"]


def test_optional_groups_left_empty_are_left_out(catalog: TemplateCatalog) -> None:
    form = FormBuilder(catalog).template("status-update", "1.0", [])
    values = posted({"/body/status": "in-review", "/body/statement_of_reasons/redress": []})
    assert collect(form.body, values) == {"status": "in-review"}
    assert collect(by_pointer(form)["/body/identical_copies_removed"], posted({})) is MISSING
    numbers = posted({"/body/identical_copies_removed": "two"})
    assert collect(by_pointer(form)["/body/identical_copies_removed"], numbers) == "two"


def test_removing_an_entry_moves_the_later_ones_up() -> None:
    values = posted(
        {
            "count:/body/content": "3",
            "/body/content/0/url": "https://a.example/0",
            "/body/content/1/url": "https://a.example/1",
            "/body/content/2/url": "https://a.example/2",
            "count:/body/content/2/hashes": "1",
            "/body/content/2/hashes/0/value": "ab",
            "/body/notes": "kept",
        }
    )
    shifted = shift_entries(values, "/body/content", 1)
    assert shifted["/body/content/0/url"] == ["https://a.example/0"]
    assert shifted["/body/content/1/url"] == ["https://a.example/2"]
    assert "/body/content/2/url" not in shifted
    assert shifted["count:/body/content/1/hashes"] == ["1"]
    assert shifted["/body/content/1/hashes/0/value"] == ["ab"]
    assert shifted["/body/notes"] == ["kept"]


def test_adding_entries_grows_the_form(catalog: TemplateCatalog) -> None:
    form = takedown_form(catalog, {"/body/content": 2, "/body/content/1/hashes": 1})
    fields = by_pointer(form)
    assert "/body/content/1/url" in fields
    assert fields["/body/content/1/hashes/0/alg"].widget == Widget.SELECT
    assert fields["/body/content/1"].label == "Reported item 2"


def test_sealed_parts_come_from_the_schemas_description() -> None:
    parts = sealed_parts('Plaintext: {"name": string, "image": base64 string, optional}.')
    assert [p.name for p in parts] == ["name"]
    assert [p.name for p in sealed_parts("no shape given")] == ["text"]
    booleans = sealed_parts('Plaintext: {"phone": string, "safe_to_leave_message": boolean}')
    assert [p.boolean for p in booleans] == [False, True]


def test_sealing_round_trip_and_what_cannot_be_opened() -> None:
    mine, theirs = PrivateEncryptionJwk.generate("mine"), PrivateEncryptionJwk.generate("theirs")
    sealed = seal_to({"email": CONTACT_EMAIL}, [(PLATFORM, mine.public()), ("other", theirs.public())])
    assert CONTACT_EMAIL not in str(sealed)
    assert open_value(sealed, PLATFORM, mine).members == {"email": CONTACT_EMAIL}
    assert open_value(sealed, PLATFORM, None).reason.endswith(
        "start the console with --enc-key to read it here"
    )
    assert open_value(sealed, "nobody", mine).members is None
    assert (
        open_value(sealed, PLATFORM, theirs).reason
        == "sealed to another of your keys than the one this console holds"
    )
    tampered = {"sealed": [{**sealed["sealed"][0], "ciphertext": sealed["sealed"][1]["ciphertext"]}]}
    assert open_value(tampered, PLATFORM, mine).members is None


def test_the_recipients_encryption_key_comes_from_the_directory() -> None:
    key = PrivateEncryptionJwk.generate("enc-1").public().to_dict()
    entry = {
        "jwks": {
            "keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA", "kid": "sig"}, {**key, "status": "active"}]
        }
    }
    assert encryption_key(PLATFORM, entry).kid == "enc-1"
    revoked = {"jwks": {"keys": [{**key, "status": "revoked"}]}}
    with pytest.raises(NoEncryptionKeyError, match="publishes no encryption key"):
        encryption_key(PLATFORM, revoked)


def test_deadlines_read_as_time_left_or_overdue() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert countdown(rfc3339(now + timedelta(hours=5, minutes=12)), now) == "due in 5 h 12 min"
    assert countdown(rfc3339(now + timedelta(days=2, hours=1)), now) == "due in 2 d 1 h"
    assert countdown(rfc3339(now - timedelta(minutes=3)), now) == "overdue by 3 min"
    met = {"state": "met", "met_at": "2026-06-01T10:00:00Z", "due_at": "2026-06-02T10:00:00Z"}
    assert deadline_text(met, now) == "met at 01 Jun 2026, 10:00 UTC"
    assert deadline_text({"state": "breached", "due_at": "2026-06-01T10:00:00Z"}, now).startswith("missed")
