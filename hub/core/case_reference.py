"""What a person may type for a case: its full id, or the short id the console and the e-mail notices show
(any prefix of at least SHORT_ID_MIN hex digits). One rule, used by the client library (which looks a
prefix up among the cases its participant may read) and the operator commands (which look it up among all
cases): a prefix names exactly one case or it is refused, and the refusal names none of the candidates."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

SHORT_ID_MIN = 6  # hex digits: the console and the e-mail notices show a case's first 8
_PREFIX = re.compile(r"[0-9a-f][0-9a-f-]{5,35}")


class CaseReferenceError(Exception):
    """A case reference that is no case id, or a prefix that names no case or several. `text` is the
    English with its `{placeholders}` (the catalogue's key, `hub.core.wording`), `values` fill them."""

    def __init__(self, text: str, **values: object) -> None:
        super().__init__(text.format(**values))
        self.text, self.values = text, values


@dataclass(frozen=True)
class CaseReference:
    """A parsed reference: the full id when one was given, else the lower-case prefix to look up."""

    case_id: uuid.UUID | None
    prefix: str


def parse_case_reference(reference: str) -> CaseReference:
    """A full case id, or a prefix to look up; CaseReferenceError for anything else."""
    wanted = reference.strip().lower()
    try:
        full = uuid.UUID(wanted)
    except ValueError:
        pass
    else:
        return CaseReference(full, str(full))
    if not _PREFIX.fullmatch(wanted):
        raise CaseReferenceError(
            "not a case id, nor the start of one (at least {count} hex digits): {given}",
            count=SHORT_ID_MIN,
            given=repr(reference[:40]),
        )
    return CaseReference(None, wanted)


def the_one_match(prefix: str, found: list[str]) -> str:
    """The case a prefix names, given the ids that start with it (at most two need be looked up)."""
    if not found:
        raise CaseReferenceError("no case you can read has an id starting with {prefix}", prefix=prefix)
    if len(found) > 1:
        raise CaseReferenceError(
            "more than one case you can read has an id starting with {prefix}: give more of the id",
            prefix=prefix,
        )
    return found[0]
