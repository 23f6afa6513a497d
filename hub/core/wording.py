"""The words a person reads, in English or German: one catalogue for the console and the e-mail notices.

English is the source language. A text is written in English where it is used (a template, a view, a
label), with named `{placeholders}`, and that English text is its key, as gettext's msgid is: what a
page says can be read where it is said. The catalogue (`hub/wording/*.json`, read by `hub.wording`)
gives every key its German; a key it lacks is said in English, and `tests/test_wording.py` fails on
one (every text the console and the notices use has its German with the same placeholders, and
every entry is used). Dates are said in words from the same catalogue (weekdays, months, the order
of their parts), so the console and the e-mail notices say a date alike.

Which language a person reads is theirs to choose (the console's language link); without a choice,
the browser's Accept-Language (RFC 9110 12.5.4) decides; English when neither names a language here.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

LANGUAGES = ("en", "de")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}  # each in its own language: never translated

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
SHORT_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LONG_DATE = "{weekday}, {day} {month} {year}, {time} UTC"  # a due time in a notice
SHORT_DATE = "{day} {month} {year}, {time} {zone}"  # a time on a page


@dataclass(frozen=True)
class Phrase:
    """A text built where the rule is (core, pure) and said later, in the reader's language: its English
    (the catalogue's key) and its values, of which one may be a `Phrase` itself. `str` is its English,
    as the command line prints it."""

    text: str
    values: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text.format(**{k: str(v) for k, v in self.values.items()})


@dataclass(frozen=True)
class Wording:
    """The catalogue: the German of each English text."""

    german: Mapping[str, str] = field(default_factory=dict)

    def say(self, language: str, text: str, /, **values: object) -> str:
        """`text` in `language`, its placeholders filled in; English where no German is known."""
        words = self.words(language, text)
        return words.format(**values) if values else words

    def say_as(self, language: str, context: str, text: str, /, **values: object) -> str:
        """`say` for the same English in two roles that German says apart (`the hub` doing a thing
        and having it done to it): its key is `context|text`."""
        words = self.words(language, text, context)
        return words.format(**values) if values else words

    def say_phrase(self, language: str, phrase: Phrase | str) -> str:
        """A `Phrase` in `language`, each value that is a phrase said in it too; a plain `str` as `say`."""
        if isinstance(phrase, str):
            return self.say(language, phrase)
        values = {
            k: self.say_phrase(language, v) if isinstance(v, Phrase) else v for k, v in phrase.values.items()
        }
        return self.say(language, phrase.text, **values)

    def words(self, language: str, text: str, context: str = "") -> str:
        """`text` in `language`, its placeholders left as they are."""
        key = f"{context}|{text}" if context else text
        return self.german.get(key, text) if language == "de" else text

    def long_date(self, moment: datetime, language: str, zone: tzinfo) -> str:
        """A due time in words, to the minute (rounded down: never later than the clock's)."""
        local = moment.astimezone(zone)
        return self.say(
            language,
            LONG_DATE,
            weekday=self.say(language, WEEKDAYS[local.weekday()]),
            day=local.day,
            month=self.say(language, MONTHS[local.month - 1]),
            year=local.year,
            time=f"{local:%H:%M}",
        )

    def short_date(self, moment: datetime, language: str, zone: tzinfo) -> str:
        """A time as a page shows it: to the minute, in the zone, the zone named (UTC, CET, CEST)."""
        local = moment.astimezone(zone)
        return self.say(
            language,
            SHORT_DATE,
            day=f"{local.day:02d}",
            month=self.say(language, SHORT_MONTHS[local.month - 1]),
            year=local.year,
            time=f"{local:%H:%M}",
            zone=local.tzname() or "",
        )


def placeholders(text: str) -> frozenset[str]:
    """The names of a text's `{placeholders}` (a translation uses no other; it may leave one out, as
    German leaves out an English article)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


def pick_language(chosen: str | None, accept_language: str = "") -> str:
    """The viewer's own choice when it is a language here, else the best the browser accepts, else
    English. Accept-Language ranges with a q of 0 are refused; a region (de-AT) counts as its language."""
    if chosen in LANGUAGES:
        return str(chosen)
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        language = tag.strip().lower().split("-")[0]
        if language in LANGUAGES and weight > 0:
            ranked.append((-weight, index, language))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
