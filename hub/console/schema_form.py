"""Forms built from the templates' JSON Schemas, so the console asks exactly what the hub will check.

A template (`schemas/<name>/<version>.json`) validates a whole envelope; its body is `$defs/body`. The
form is a tree of `Field`s, one per property, each at the RFC 6901 pointer the hub's validator uses for
its faults, so a fault lands next to the field it is about (`form_data.map_faults`). The pointer is also
the input's `name`, and an id made from it links the label, the hint and the error.

What a property becomes follows from its schema alone: an `enum` a drop-down list, `const: true` a box to
tick ("I affirm"), a boolean a yes/no choice, an integer a number, a long string a text area, an array of
strings a text area with one entry per line, an array of `enum` values a group of check boxes, an array
of objects a repeated group with buttons to add and remove one (the form posts back, no script needed),
an object a fieldset. A `sealed` value (`common#/$defs/sealed`) becomes the parts its description names
("Plaintext: {"name": string, ...}"): the console seals them to every recipient before signing.
Labels are plain-language where the property name alone would be jargon; the schema's description is
the hint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hub.console.labels import ITEM_LABELS, LABELS, OPTION_LABELS, PART_LABELS
from hub.core.envelope import NEW_REFERRAL_TYPES
from hub.core.templates import SCHEMA_ID_PREFIX, TemplateCatalog, schema_id
from hub.core.wording import DEFAULT_LANGUAGE
from hub.wording import load_wording

SEALED_REF = "urn:referral-hub:schema:common:1.0#/$defs/sealed"
MAX_REPEAT = 50
_PLAINTEXT = re.compile(r"Plaintext:\s*\{([^}]*)\}")
_NESTED = re.compile(r"\[\{[^\]]*\}\]")  # a list of objects (files): the console has no upload
_PART = re.compile(r'"([a-z_]+)":\s*(base64 string|string|boolean)')

MULTILINE_PARTS = frozenset({"text", "postal_address"})


class Widget(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    SELECT = "select"
    AFFIRM = "affirm"
    YESNO = "yesno"
    NUMBER = "number"
    LINES = "lines"
    CHOICES = "choices"
    GROUP = "group"
    REPEAT = "repeat"
    SEALED = "sealed"
    RECIPIENTS = "recipients"
    FIXED = "fixed"


@dataclass(frozen=True)
class SealedPart:
    name: str
    label: str
    boolean: bool
    multiline: bool


@dataclass
class Field:
    pointer: str
    name: str
    label: str
    hint: str
    widget: Widget
    required: bool
    options: tuple[tuple[str, str], ...] = ()
    children: list[Field] = field(default_factory=list)
    parts: tuple[SealedPart, ...] = ()
    min_items: int = 0
    max_items: int = MAX_REPEAT
    item_label: str = "Item"
    timestamp: bool = False
    flat: bool = False
    conditional: bool = False  # required in some cases (the schema's if/then)

    @property
    def id(self) -> str:
        return "f" + re.sub(r"[^A-Za-z0-9_-]", "-", self.pointer)

    def walk(self) -> Iterator[Field]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class TemplateForm:
    name: str
    version: str
    title: str
    description: str
    opens_case: bool
    envelope: list[Field]
    body: Field

    def fields(self) -> Iterator[Field]:
        for envelope_field in self.envelope:
            yield from envelope_field.walk()
        yield from self.body.walk()


def humanise(name: str) -> str:
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def option_label(value: object) -> str:
    text = str(value)
    return OPTION_LABELS.get(text, humanise(text))


def without_plaintext(description: str) -> str:
    """A sealed field's description as its hint: without the "Plaintext: {...}" the console reads its parts
    from (schema wording; the parts are the fields below it), nor the rest of that sentence."""
    start = description.find("Plaintext:")
    if start < 0:
        return description
    end = description.find(".", description.rfind("}", start) + 1)
    rest = description[end + 1 :] if end >= 0 else ""
    return (description[:start].rstrip() + " " + rest.strip()).strip()


def for_people(description: str) -> str:
    """A description as a hint: without the sentences about the schema itself (written for integrators)."""
    sentences = re.split(r"(?<=[.!?])\s+", description)
    return " ".join(s for s in sentences if not _ABOUT_SCHEMA.search(s)).strip()


_ABOUT_SCHEMA = re.compile(r"\bschema\b|\bschema error\b|JSON Pointer|\$ref", re.IGNORECASE)


def sealed_parts(description: str) -> tuple[SealedPart, ...]:
    """The plaintext's members, as the sealed field's description names them; binary parts are left out
    (the console has no file upload). Without a description to go by, one free text."""
    found = _PLAINTEXT.search(_NESTED.sub("list", description))
    parts = [
        SealedPart(name, PART_LABELS.get(name, humanise(name)), kind == "boolean", name in MULTILINE_PARTS)
        for name, kind in (_PART.findall(found.group(1)) if found else [])
        if kind != "base64 string"
    ]
    return tuple(parts) or (SealedPart("text", "Text", boolean=False, multiline=True),)


class SchemaResolver:
    """Follows `$ref`s across the catalogue (`urn:referral-hub:schema:<name>:<version>#/pointer`)."""

    def __init__(self, catalog: TemplateCatalog) -> None:
        self._catalog = catalog

    def document(self, uri: str) -> Mapping[str, Any]:
        name, _, version = uri.removeprefix(SCHEMA_ID_PREFIX).rpartition(":")
        return self._catalog.schema(name, version)

    def resolve(self, node: Mapping[str, Any], base: str) -> tuple[dict[str, Any], str]:
        """The node with its `$ref` chain merged in; the node's own keywords (description) win."""
        merged = dict(node)
        while isinstance(merged.get("$ref"), str):
            ref = merged.pop("$ref")
            uri, _, fragment = ref.partition("#")
            base = uri or base
            target: Any = self.document(base)
            for part in fragment.split("/")[1:]:
                target = target[part.replace("~1", "/").replace("~0", "~")]
            merged = {**target, **merged}
        return merged, base


class FormBuilder:
    """Turns a template into a `TemplateForm`; `counts` says how many entries each repeated group has."""

    def __init__(
        self,
        catalog: TemplateCatalog,
        counts: Mapping[str, int] | None = None,
        language: str = DEFAULT_LANGUAGE,
    ) -> None:
        self._resolver = SchemaResolver(catalog)
        self._catalog = catalog
        self._counts = dict(counts or {})
        self._language = language

    def _say(self, text: str) -> str:
        """A label, a hint, a title in the form's language (the English is the key, `hub.core.wording`;
        a schema's descriptions and titles have their German in `hub/wording/schemas.de.json`)."""
        return load_wording().words(self._language, text) if text else text

    def template(self, name: str, version: str, envelope: list[Field]) -> TemplateForm:
        schema = self._catalog.schema(name, version)
        base = schema_id(name, version)
        body_node: Mapping[str, Any] = {"type": "object"}
        opens_case = name in NEW_REFERRAL_TYPES  # a fan-out's further parts name one, never by hand
        for part in schema.get("allOf", []):
            properties = part.get("properties", {})
            body_node = properties.get("body", body_node)
        body = self.field(body_node, base, "/body", "body", required=True)
        if body is None:  # pragma: no cover - every template has a body
            raise ValueError(f"template {name} {version} has no body")
        body.flat = True
        return TemplateForm(
            name=name,
            version=version,
            title=self._say(str(schema.get("title", humanise(name))).removesuffix(f" {version}")),
            description=self._say(str(schema.get("description", ""))),
            opens_case=opens_case,
            envelope=envelope,
            body=body,
        )

    def field(
        self, node: Mapping[str, Any], base: str, pointer: str, name: str, required: bool
    ) -> Field | None:
        if node.get("$ref") == SEALED_REF:
            description = str(node.get("description", ""))
            return Field(
                pointer,
                name,
                self._say(LABELS.get(name, humanise(name))),
                self._say(for_people(without_plaintext(description))),
                Widget.SEALED,
                required,
                parts=tuple(
                    SealedPart(p.name, self._say(p.label), p.boolean, p.multiline)
                    for p in sealed_parts(description)
                ),
            )
        resolved, base = self._resolver.resolve(node, base)
        if resolved.get("not") == {}:
            return None  # a property the template forbids here
        label = self._say(LABELS.get(name) or str(resolved.get("title") or humanise(name)))
        hint = self._say(for_people(str(resolved.get("description", ""))))
        made = Field(pointer, name, label, hint, Widget.TEXT, required)
        if "const" in resolved:
            return made if self._const(made, resolved["const"]) else None
        if "enum" in resolved:
            made.widget = Widget.SELECT
            made.options = tuple((str(v), self._say(option_label(v))) for v in resolved["enum"])
            return made
        kind = resolved.get("type")
        if kind == "object" or "properties" in resolved:
            self._group(made, resolved, base)
        elif kind == "array":
            self._array(made, resolved, base)
        elif kind == "boolean":
            made.widget = Widget.YESNO
        elif kind in ("integer", "number"):
            made.widget = Widget.NUMBER
        else:
            free_text = "format" not in resolved and "pattern" not in resolved
            long_text = free_text and int(resolved.get("maxLength", 0)) >= 500
            made.widget = Widget.TEXTAREA if long_text else Widget.TEXT
            made.timestamp = resolved.get("format") == "date-time"
        return made

    @staticmethod
    def _const(made: Field, value: object) -> bool:
        if value is not True:
            return False  # a fixed value the user has nothing to say about
        made.widget = Widget.AFFIRM
        return True

    def _group(self, made: Field, node: Mapping[str, Any], base: str) -> None:
        made.widget = Widget.GROUP
        required = set(node.get("required", ()))
        conditional = {
            name
            for part in [node, *node.get("allOf", ())]
            if isinstance(part, Mapping)
            for name in part.get("then", {}).get("required", ())
        }
        for child_name, child in node.get("properties", {}).items():
            built = self.field(
                child, base, f"{made.pointer}/{child_name}", child_name, child_name in required
            )
            if built is not None:
                built.conditional = child_name in conditional and child_name not in required
                made.children.append(built)

    def _array(self, made: Field, node: Mapping[str, Any], base: str) -> None:
        items, items_base = self._resolver.resolve(node.get("items", {}), base)
        made.min_items = int(node.get("minItems", 0))
        made.max_items = min(int(node.get("maxItems", MAX_REPEAT)), MAX_REPEAT)
        if "enum" in items:
            made.widget = Widget.CHOICES
            made.options = tuple((str(v), self._say(option_label(v))) for v in items["enum"])
        elif items.get("type") == "object":
            made.widget = Widget.REPEAT
            made.item_label = self._say(ITEM_LABELS.get(made.name, "Item"))
            default = max(made.min_items, 1) if made.required else 0  # optional: none until added
            count = max(0, min(self._counts.get(made.pointer, default), made.max_items))
            for index in range(count):
                entry = self.field(items, items_base, f"{made.pointer}/{index}", made.name, required=True)
                if entry is not None:
                    entry.label = f"{made.item_label} {index + 1}"
                    made.children.append(entry)
        else:
            made.widget = Widget.LINES
