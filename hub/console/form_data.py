"""Posted form values to JSON, and the validator's faults back to the fields they are about.

Values are kept as posted (`FormValues`: input name -> every value given) so a refused form comes back
exactly as the user left it. `collect` builds the JSON the template describes: an empty input is an
absent property (so the schema's "required property ... is missing" appears at that field), a number
that is not one stays text (so the schema says what type it must be), an optional group left entirely
empty is left out. A sealed value becomes a `Sealed` marker holding its plaintext, which `sealing`
replaces with one sealed box per recipient; until then `placeholder_sealed` stands in for validation, so
the schema is checked before the console fetches a single key.

`map_faults` finds, for every fault, the deepest field whose pointer is the fault's pointer or a prefix
of it, and keeps the validator's message as it is (naming the line of a one-per-line list).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

from hub.console.local_time import signed_time
from hub.console.plain_faults import plain_fault
from hub.console.schema_form import MAX_REPEAT, Field, TemplateForm, Widget
from hub.core import inputs
from hub.core.jose import b64url_encode
from hub.core.templates import SchemaFault
from hub.core.wording import DEFAULT_LANGUAGE
from hub.wording import load_wording

FormValues = dict[str, list[str]]
_INTEGER = re.compile(r"^-?[0-9]{1,15}$")
_YES_NO = {"yes": True, "no": False}


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Sealed:
    """A value to seal to every recipient: its plaintext members, never sent in clear."""

    plaintext: dict[str, Any]


def form_values(posted: Iterable[tuple[str, object]]) -> FormValues:
    values: FormValues = {}
    for name, value in posted:
        if isinstance(value, str):
            values.setdefault(name, []).append(value)
    return values


def first(values: Mapping[str, list[str]], name: str) -> str:
    found = values.get(name)
    return found[0] if found else ""


def counts_of(values: Mapping[str, list[str]]) -> dict[str, int]:
    """How many entries each repeated group had (`count:<pointer>` hidden inputs)."""
    counts = {}
    for name, given in values.items():
        count = inputs.parse_decimal(given[0], 0, MAX_REPEAT) if name.startswith("count:") and given else None
        if count is not None:  # anything else was not posted by the console's own page: ignored
            counts[name.removeprefix("count:")] = count
    return counts


def collect(made: Field, values: Mapping[str, list[str]], zone: tzinfo = UTC) -> Any:
    """The JSON value of one field, or MISSING; a time typed in `zone` (the viewer's) becomes UTC."""
    raw = first(values, made.pointer)
    widget = made.widget
    if widget == Widget.TEXT and made.timestamp:
        return signed_time(raw, zone) or MISSING
    if widget in (Widget.TEXT, Widget.SELECT, Widget.FIXED):
        return raw.strip() or MISSING
    if widget == Widget.TEXTAREA:
        return raw.strip() or MISSING
    if widget == Widget.AFFIRM:
        return True if raw == "true" else MISSING
    if widget == Widget.YESNO:
        return _YES_NO.get(raw, MISSING)
    if widget == Widget.NUMBER:
        text = raw.strip()
        return int(text) if _INTEGER.match(text) else (text or MISSING)
    if widget == Widget.LINES:
        return [line.strip() for line in raw.splitlines() if line.strip()] or MISSING
    if widget in (Widget.CHOICES, Widget.RECIPIENTS):
        return [v for v in values.get(made.pointer, []) if v] or MISSING
    if widget == Widget.SEALED:
        return _sealed(made, values)
    return _compound(made, values, zone)


def _compound(made: Field, values: Mapping[str, list[str]], zone: tzinfo) -> Any:
    if made.widget == Widget.REPEAT:
        entries = [collect(child, values, zone) for child in made.children]
        if all(entry is MISSING or entry == {} for entry in entries) and not made.required:
            return MISSING
        return [{} if entry is MISSING else entry for entry in entries] if entries else []
    members = {}
    for child in made.children:
        value = collect(child, values, zone)
        if value is not MISSING:
            members[child.name] = value
    if not members and not made.required:
        return MISSING
    return members


def _sealed(made: Field, values: Mapping[str, list[str]]) -> Any:
    plaintext: dict[str, Any] = {}
    for part in made.parts:
        raw = first(values, f"{made.pointer}#{part.name}").strip()
        value: Any = _YES_NO.get(raw, MISSING) if part.boolean else (raw or MISSING)
        if value is not MISSING:
            plaintext[part.name] = value
    return Sealed(plaintext) if plaintext else MISSING


def sealed_values(node: Any, pointer: str = "") -> Iterable[tuple[str, Sealed]]:
    """Every `Sealed` marker in a collected document, with its pointer."""
    if isinstance(node, Sealed):
        yield pointer, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from sealed_values(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from sealed_values(value, f"{pointer}/{index}")


def replace_sealed(node: Any, replace: Any) -> Any:
    """A copy of the document with every `Sealed` marker replaced by `replace(marker)`."""
    if isinstance(node, Sealed):
        return replace(node)
    if isinstance(node, dict):
        return {key: replace_sealed(value, replace) for key, value in node.items()}
    if isinstance(node, list):
        return [replace_sealed(value, replace) for value in node]
    return node


def placeholder_sealed(recipients: Iterable[str]) -> Any:
    """What stands in for a sealed value while the schema is checked, before any key is fetched."""
    names = [r for r in recipients if isinstance(r, str)] or ["placeholder"]

    def stand_in(_: Sealed) -> dict[str, Any]:
        copy = {"kid": "placeholder", "alg": "X25519-SEALEDBOX", "ciphertext": b64url_encode(bytes(64))}
        return {"sealed": [{"to": name, **copy} for name in names]}

    return stand_in


@dataclass
class FormErrors:
    by_field: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str, str, str]] = field(default_factory=list)  # (field id, label, message)

    def add(self, made: Field | None, message: str, whole: str = "The message") -> None:
        """`message` at `made`'s field; a fault of no field is of the message as a whole (`whole`)."""
        if made is not None:
            self.by_field.setdefault(made.pointer, []).append(message)
        self.summary.append((made.id if made else "", made.label if made else whole, message))

    def __bool__(self) -> bool:
        return bool(self.summary)


def field_for(fields: Iterable[Field], pointer: str) -> Field | None:
    best: Field | None = None
    for candidate in fields:
        if (pointer == candidate.pointer or pointer.startswith(candidate.pointer + "/")) and (
            best is None or len(candidate.pointer) > len(best.pointer)
        ):
            best = candidate
    return best


def map_faults(
    form: TemplateForm, faults: Iterable[SchemaFault], language: str = DEFAULT_LANGUAGE
) -> FormErrors:
    fields = list(form.fields())
    errors = FormErrors()
    for fault in faults:
        made = field_for(fields, fault.pointer)
        message = plain_fault(fault.message, made.name if made is not None else "", language)
        if made is not None and made.widget in (Widget.LINES, Widget.CHOICES, Widget.RECIPIENTS):
            rest = fault.pointer.removeprefix(made.pointer).strip("/")
            if rest.isdigit():
                entry = load_wording().say(language, "Entry {number}", number=int(rest) + 1)
                message = f"{entry}: {message}"
        errors.add(made, message, load_wording().say(language, "The message"))
    return errors


def shift_entries(values: FormValues, array_pointer: str, removed: int) -> FormValues:
    """The values after entry `removed` of a repeated group is taken out: later entries move up one."""
    prefix = array_pointer + "/"
    shifted: FormValues = {}
    for name, given in values.items():
        key = name.removeprefix("count:")
        if not key.startswith(prefix):
            shifted[name] = given
            continue
        index_text, _, rest = key[len(prefix) :].partition("/")
        head, sep, part = index_text.partition("#")
        entry = inputs.parse_decimal(head, 0, MAX_REPEAT)
        if entry is None or entry == removed:
            continue
        index = entry - (1 if entry > removed else 0)
        moved = f"{prefix}{index}{sep}{part}" + (f"/{rest}" if rest else "")
        shifted[("count:" if name.startswith("count:") else "") + moved] = given
    return shifted
