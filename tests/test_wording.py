"""The one catalogue of the console's and the e-mail notices' words (hub.core.wording, hub/wording)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.core.wording import Wording, pick_language, placeholders
from hub.wording import FILES, load_wording, read_german

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "hub" / "console" / "templates").glob("*.html"))
IN_TEMPLATE = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def template_texts() -> set[str]:
    """Every literal text the console's templates say through `_`."""
    found = set()
    for path in TEMPLATES:
        for double, single in IN_TEMPLATE.findall(path.read_text("utf-8")):
            found.add((double or single).replace('\\"', '"').replace("\\'", "'"))
    return found


@pytest.mark.parametrize(
    ("chosen", "accept", "language"),
    [
        ("de", "en", "de"),
        ("en", "de-DE,de;q=0.9", "en"),
        (None, "de-DE,de;q=0.9,en;q=0.8", "de"),
        (None, "fr-FR, de;q=0.5, en;q=0.7", "en"),
        (None, "de;q=0, en;q=0.1", "en"),
        (None, "fr", "en"),
        ("xx", "de-AT", "de"),
        (None, "", "en"),
        (None, "de;q=nonsense", "en"),
    ],
)
def test_the_choice_wins_then_the_browser_then_english(
    chosen: str | None, accept: str, language: str
) -> None:
    assert pick_language(chosen, accept) == language


def test_dates_in_words_in_both_languages() -> None:
    wording = load_wording()
    due = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    assert wording.long_date(due, "en", UTC) == "Monday, 2 March 2026, 09:05 UTC"
    assert wording.long_date(due, "de", UTC) == "Montag, 2. März 2026, 09:05 Uhr UTC"
    berlin = ZoneInfo("Europe/Berlin")
    assert wording.short_date(due, "en", berlin) == "02 Mar 2026, 10:05 CET"
    assert wording.short_date(due, "de", berlin) == "02. März 2026, 10:05 CET"


def test_a_text_without_german_is_said_in_english_and_values_fill_in() -> None:
    wording = Wording({"Case {id}": "Fall {id}"})
    assert wording.say("de", "Case {id}", id="3f2a9c1e") == "Fall 3f2a9c1e"
    assert wording.say("en", "Case {id}", id="3f2a9c1e") == "Case 3f2a9c1e"
    assert wording.say("de", "Not in the catalogue") == "Not in the catalogue"


@pytest.mark.parametrize("name", FILES)
def test_every_translation_has_words_and_only_the_english_placeholders(name: str) -> None:
    for english, german in read_german(name).items():
        assert german.strip(), english
        text = english.partition("|")[2] if "|" in english.split(" ")[0] else english
        assert placeholders(german) <= placeholders(text), english


def test_no_text_is_in_two_files() -> None:
    seen: dict[str, str] = {}
    for name in FILES:
        for english in read_german(name):
            assert english not in seen, f"{english!r} is in {seen[english]} and {name}"
            seen[english] = name


def test_every_text_of_the_console_templates_has_its_german() -> None:
    german = load_wording().german
    missing = sorted(t for t in template_texts() if t not in german)
    assert not missing, missing
    assert len(template_texts()) > 150  # the extraction finds the templates' texts


def test_every_label_and_word_the_console_shows_has_its_german() -> None:
    from hub.console import labels, plain_faults
    from hub.console.views import cases, own_entry

    tables = (
        labels.LABELS,
        labels.ITEM_LABELS,
        labels.PART_LABELS,
        labels.OPTION_LABELS,
        labels.MESSAGE_TYPES,
        labels.STATES,
        own_entry.ORIGINS,
        plain_faults.FORMATS,
        plain_faults.FORMS,
        cases.SORTS,
    )
    german = load_wording().german
    missing = sorted(t for table in tables for t in table.values() if t not in german)
    assert not missing, missing


def test_every_hint_and_choice_of_every_form_has_its_german() -> None:
    """Each form the console offers, built in German: no label, hint, choice or title left in English."""
    from hub.console.next_steps import REFERRALS
    from hub.console.schema_form import FormBuilder
    from hub.core.case_view import MESSAGE_ACTIONS
    from hub.schemas import load_catalog

    catalog = load_catalog()
    english_forms = {}
    for name in sorted({*MESSAGE_ACTIONS, *REFERRALS} - {"match-report"}):  # a matcher's, not a person's
        version = max(v for t, v in catalog.templates() if t == name)
        counts = {p: 1 for p in ("/body/content", "/body/illegality/laws", "/body/items", "/body/retained")}
        english = FormBuilder(catalog, counts).template(name, version, [])
        german = FormBuilder(catalog, counts, "de").template(name, version, [])
        english_forms[name] = english
        assert german.title != english.title, name
        assert german.description != english.description, name
        for en, de in zip(english.fields(), german.fields(), strict=True):
            assert not en.label or de.label != en.label or en.label in load_wording().german, (name, en.label)
            assert not en.hint or de.hint != en.hint, (name, en.pointer, en.hint)
            for (_, en_text), (_, de_text) in zip(en.options, de.options, strict=True):
                assert de_text != en_text or en_text in load_wording().german, (name, en.pointer, en_text)
    assert "takedown-request" in english_forms


def said_in_templates(folder: Path, names: tuple[str, ...]) -> set[str]:
    """Every literal text the templates in `folder` say through one of `names` (read by Jinja's parser)."""
    import jinja2
    from jinja2 import nodes

    environment = jinja2.Environment()
    found = set()
    for path in sorted(folder.glob("*.j*")):
        tree = environment.parse(path.read_text("utf-8"))
        for call in tree.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in names and call.args:
                first = call.args[0]
                if isinstance(first, nodes.Const) and isinstance(first.value, str):
                    found.add(first.value)
    return found


def test_every_text_of_the_e_mail_notices_has_its_german() -> None:
    folder = ROOT / "adapters" / "templates" / "email"
    texts = said_in_templates(folder, ("t", "tm"))
    laws = ROOT / "adapters" / "templates" / "email" / "legal.j2"
    assert len(texts) > 80
    german = load_wording().german
    missing = sorted(t for t in texts if t not in german)
    assert not missing, missing
    assert "Europäische Union" in german[next(k for k in german if k.startswith("European Union:"))]
    assert laws.is_file()


def test_every_problem_title_of_the_hub_has_its_german() -> None:
    """The console shows the title of a refusal in the viewer's language (the detail stays the hub's)."""
    from hub.api.problems import PROBLEMS

    german = load_wording().german
    missing = sorted(title for _, title in PROBLEMS.values() if title not in german)
    assert not missing, missing


def test_every_problem_the_your_keys_page_shows_has_its_german() -> None:
    """Each problem of one's own entry and each reason a key is refused is a `Phrase` built from one
    of the named texts, and each has its German (the console says it; `hub keys monitor` prints the
    English)."""
    import ast

    from hub.core import key_chain, own_entry

    texts = {*own_entry.PROBLEMS, *key_chain.REASONS}
    for module in (own_entry, key_chain):
        tree = ast.parse(Path(str(module.__file__)).read_text("utf-8"))
        built = {
            call.args[0].id
            for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Phrase"
            if isinstance(call.args[0], ast.Name)
        }
        assert built, module.__name__
        assert {getattr(module, name) for name in built} <= texts, module.__name__
    german = load_wording().german
    missing = sorted(t for t in texts if t not in german)
    assert not missing, missing
    assert len(texts) == 18
