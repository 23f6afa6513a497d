"""A schema fault in the words of the person filling in the form (issue 17: no schema wording in errors).

The hub and `hub.core.templates` say what failed in the schema's terms ('required property "reason" is
missing', "must be a valid uri"), which `hub send` prints as they are, with the JSON Pointer, for the
integrators who read schemas. The console shows the same fault at its field in plain words: the field's
label says what it is about, the message says what to do. The messages read here are the ones
`hub.core.templates` writes (its `_CONSTRAINTS` and the required / unexpected / enum / const cases), the
same whether the console's own check found the fault or the hub's refusal listed it; a message this
module does not know is shown as it came, so nothing is lost (tests/test_console_plain_faults.py checks
every invalid example of every template reads in plain words).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from hub.console.labels import LABELS
from hub.console.schema_form import humanise
from hub.core.wording import DEFAULT_LANGUAGE
from hub.wording import load_wording

FORMATS = {
    "uri": "Give the full web address, starting with https://",
    "date-time": "Give a date and time, like 2026-01-05 11:00",
    "date": "Give a date, like 2026-01-05",
    "email": "Give an e-mail address, like name@example.org",
    "uuid": "Give an id of 32 hexadecimal digits in five groups, like 3f2a9c1e-0b4d-4e8a-9c1f-2a7b5d6e8f90",
}
# What "does not have the required form" means for the fields people get wrong most, by property name.
FORMS = {
    "url": FORMATS["uri"],
    "jurisdiction": "Give a two-letter country code in capitals, like IE, or EU",
    "jurisdictions": "Give two-letter country codes in capitals, like IE, or EU",
    "country_of_residence": "Give a two-letter country code in capitals, like DE",
    "value": "Give the hash as hexadecimal digits (0-9, a-f) of the algorithm's length",
    "languages": "Give language codes, like de or en",
}


Said = tuple[str, dict[str, object]]  # English (the catalogue's key) and its values


def _count(n: str, one: str, many: str) -> Said:
    return (one if n == "1" else many), {"count": n}


def _one_of(m: re.Match[str], language: str) -> Said:
    say = load_wording().say
    names = [say(language, LABELS.get(n, humanise(n))) for n in re.findall(r'"([^"]+)"', m[1])]
    listed = ", ".join(n[:1].lower() + n[1:] if language == DEFAULT_LANGUAGE else n for n in names)
    return "Give at least one of: {fields}", {"fields": listed}


_PLAIN: list[tuple[re.Pattern[str], Callable[[re.Match[str], str, str], Said]]] = [
    (re.compile(r'required property "([^"]+)" is missing'), lambda m, f, lang: ("Fill this in", {})),
    (re.compile(r"one of (.+) is required"), lambda m, f, lang: _one_of(m, lang)),
    (
        re.compile(r'property "([^"]+)" is not allowed here'),
        lambda m, f, lang: ("This form does not ask for this", {}),
    ),
    (
        re.compile(r"matches none of the allowed forms"),
        lambda m, f, lang: ("This is not in a form that is accepted", {}),
    ),
    (
        re.compile(r"has a value that is not allowed here"),
        lambda m, f, lang: ("This answer is not accepted here", {}),
    ),
    (re.compile(r"is not allowed here"), lambda m, f, lang: ("Leave this empty in this case", {})),
    (
        re.compile(r"must be a valid (.+)"),
        lambda m, f, lang: (
            (FORMATS[m[1]], {}) if m[1] in FORMATS else ("This is not a valid {what}", {"what": m[1]})
        ),
    ),
    (
        re.compile(r"does not have the required form"),
        lambda m, f, lang: (FORMS.get(f, "This is not in the expected form: see the hint"), {}),
    ),
    (
        re.compile(r"must be at least (\d+) characters long"),
        lambda m, f, lang: ("Write at least {count} characters", {"count": m[1]}),
    ),
    (
        re.compile(r"must be at most (\d+) characters long"),
        lambda m, f, lang: ("Write at most {count} characters", {"count": m[1]}),
    ),
    (
        re.compile(r"must have at least (\d+) item\(s\)"),
        lambda m, f, lang: _count(m[1], "Give at least {count} entry", "Give at least {count} entries"),
    ),
    (
        re.compile(r"must have at most (\d+) item\(s\)"),
        lambda m, f, lang: _count(m[1], "Give at most {count} entry", "Give at most {count} entries"),
    ),
    (
        re.compile(r"must not repeat an item"),
        lambda m, f, lang: ("An entry is given twice: give each once", {}),
    ),
    (re.compile(r"must be at least (\S+)$"), lambda m, f, lang: ("Give {limit} or more", {"limit": m[1]})),
    (re.compile(r"must be at most (\S+)$"), lambda m, f, lang: ("Give {limit} or less", {"limit": m[1]})),
    (
        re.compile(r"must be greater than (\S+)"),
        lambda m, f, lang: ("Give more than {limit}", {"limit": m[1]}),
    ),
    (re.compile(r"must be less than (\S+)"), lambda m, f, lang: ("Give less than {limit}", {"limit": m[1]})),
    (
        re.compile(r"must be of type (.+)"),
        lambda m, f, lang: ("This is not the kind of answer asked for", {}),
    ),
    (re.compile(r"must be one of "), lambda m, f, lang: ("Choose one of the listed answers", {})),
    (re.compile(r"must be True$"), lambda m, f, lang: ("Tick this box to make the statement", {})),
    (re.compile(r"must be (.+)$"), lambda m, f, lang: ("This answer is not accepted here", {})),
    (
        re.compile(r"must have at least (\d+) member\(s\)"),
        lambda m, f, lang: ("Give at least one of these details", {}),
    ),
    (
        re.compile(r"must have at most (\d+) member\(s\)"),
        lambda m, f, lang: ("Give fewer of these details", {}),
    ),
    (re.compile(r"does not satisfy '"), lambda m, f, lang: ("This answer is not accepted", {})),
]


def plain_fault(message: str, name: str = "", language: str = DEFAULT_LANGUAGE) -> str:
    """The fault `message` (of the property `name`) as the person is told it at the field, in the
    person's language; a message not known here is shown as it came (the hub's words)."""
    for pattern, said in _PLAIN:
        found = pattern.search(message)
        if found:
            text, values = said(found, name, language)
            return load_wording().say(language, text, **values)
    return message
