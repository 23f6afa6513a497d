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

FORMATS = {
    "uri": "Give the full web address, starting with https://",
    "date-time": "Give a date and time in UTC, like 2026-01-05T11:00:00Z",
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


def _label(name: str) -> str:
    return LABELS.get(name, humanise(name))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _count(n: str, one: str, many: str) -> str:
    return f"{n} {one if n == '1' else many}"


_PLAIN: list[tuple[re.Pattern[str], Callable[[re.Match[str], str], str]]] = [
    (re.compile(r'required property "([^"]+)" is missing'), lambda m, f: "Fill this in"),
    (
        re.compile(r"one of (.+) is required"),
        lambda m, f: (
            "Give at least one of: "
            + ", ".join(_lower_first(_label(n)) for n in re.findall(r'"([^"]+)"', m[1]))
        ),
    ),
    (re.compile(r'property "([^"]+)" is not allowed here'), lambda m, f: "This form does not ask for this"),
    (re.compile(r"matches none of the allowed forms"), lambda m, f: "This is not in a form that is accepted"),
    (re.compile(r"has a value that is not allowed here"), lambda m, f: "This answer is not accepted here"),
    (re.compile(r"is not allowed here"), lambda m, f: "Leave this empty in this case"),
    (re.compile(r"must be a valid (.+)"), lambda m, f: FORMATS.get(m[1], f"This is not a valid {m[1]}")),
    (
        re.compile(r"does not have the required form"),
        lambda m, f: FORMS.get(f, "This is not in the expected form: see the hint"),
    ),
    (re.compile(r"must be at least (\d+) characters long"), lambda m, f: f"Write at least {m[1]} characters"),
    (re.compile(r"must be at most (\d+) characters long"), lambda m, f: f"Write at most {m[1]} characters"),
    (
        re.compile(r"must have at least (\d+) item\(s\)"),
        lambda m, f: f"Give at least {_count(m[1], 'entry', 'entries')}",
    ),
    (
        re.compile(r"must have at most (\d+) item\(s\)"),
        lambda m, f: f"Give at most {_count(m[1], 'entry', 'entries')}",
    ),
    (re.compile(r"must not repeat an item"), lambda m, f: "An entry is given twice: give each once"),
    (re.compile(r"must be at least (\S+)$"), lambda m, f: f"Give {m[1]} or more"),
    (re.compile(r"must be at most (\S+)$"), lambda m, f: f"Give {m[1]} or less"),
    (re.compile(r"must be greater than (\S+)"), lambda m, f: f"Give more than {m[1]}"),
    (re.compile(r"must be less than (\S+)"), lambda m, f: f"Give less than {m[1]}"),
    (re.compile(r"must be of type (.+)"), lambda m, f: "This is not the kind of answer asked for"),
    (re.compile(r"must be one of "), lambda m, f: "Choose one of the listed answers"),
    (re.compile(r"must be True$"), lambda m, f: "Tick this box to make the statement"),
    (re.compile(r"must be (.+)$"), lambda m, f: "This answer is not accepted here"),
    (re.compile(r"must have at least (\d+) member\(s\)"), lambda m, f: "Give at least one of these details"),
    (re.compile(r"must have at most (\d+) member\(s\)"), lambda m, f: "Give fewer of these details"),
    (re.compile(r"does not satisfy '"), lambda m, f: "This answer is not accepted"),
]


def plain_fault(message: str, name: str = "") -> str:
    """The fault `message` (of the property `name`) as the person is told it at the field."""
    for pattern, say in _PLAIN:
        found = pattern.search(message)
        if found:
            return say(found, name)
    return message
