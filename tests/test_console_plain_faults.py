"""The console says a schema fault in plain words (issue 17): every fault of every template's invalid
examples, as the form would show it, holds no schema wording; and the words are the ones a person acts on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub.console.plain_faults import plain_fault
from hub.console.schema_form import FormBuilder, Widget
from hub.core.templates import TemplateCatalog, UnknownTemplateError

EXAMPLES = sorted(Path(__file__).parent.parent.glob("schemas/*/examples/invalid/*.json"))
SCHEMA_WORDS = re.compile(
    r"property|required|\buri\b|date-time|of type|item\(s\)|member\(s\)|satisfy|must be|\"|\bconst\b|\benum\b"
)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: f"{p.parent.parent.parent.name}/{p.stem}")
def test_every_fault_of_the_invalid_examples_reads_in_plain_words(
    example: Path, catalog: TemplateCatalog
) -> None:
    try:
        faults = catalog.validate(json.loads(example.read_text("utf-8")))
    except UnknownTemplateError:
        pytest.skip("refused before the schema")
    for fault in faults:
        name = fault.pointer.rsplit("/", 1)[-1]
        said = plain_fault(fault.message, name)
        assert not SCHEMA_WORDS.search(said), (fault.message, said)


@pytest.mark.parametrize(
    ("message", "name", "said"),
    [
        ('required property "reason" is missing', "reason", "Fill this in"),
        ("must be a valid uri", "url", "Give the full web address, starting with https://"),
        ("does not have the required form", "url", "Give the full web address, starting with https://"),
        (
            "does not have the required form",
            "jurisdiction",
            "Give a two-letter country code in capitals, like IE, or EU",
        ),
        (
            'one of "url", "platform_item_id" is required',
            "url",
            "Give at least one of: web address (URL), the platform's id for the item",
        ),
        ('must be one of "no", "yes", "unknown"', "minor_depicted", "Choose one of the listed answers"),
        ("must be True", "affirmed", "Tick this box to make the statement"),
        ("must have at least 1 item(s)", "laws", "Give at least 1 entry"),
        ("must be at least 20 characters long", "explanation", "Write at least 20 characters"),
        ("the hub's own words about something new", "x", "the hub's own words about something new"),
    ],
)
def test_a_fault_says_what_to_do(message: str, name: str, said: str) -> None:
    assert plain_fault(message, name) == said


def test_no_hint_of_any_form_shows_a_sealed_value_s_schema(catalog: TemplateCatalog) -> None:
    """A sealed field's hint says what it is for; its parts are the fields below it, not its schema."""

    sealed = 0
    for name, version in catalog.templates():
        for made in FormBuilder(catalog, {}).template(name, version, []).fields():
            assert "Plaintext" not in made.hint, (name, made.pointer)
            assert '{"' not in made.hint, (name, made.pointer)
            assert "schema" not in made.hint.lower(), (name, made.pointer)
            sealed += made.widget == Widget.SEALED and bool(made.hint) and bool(made.parts)
    assert sealed >= 5  # the sealed fields still have their hints and their parts
