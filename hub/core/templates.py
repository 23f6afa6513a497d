"""Message templates: JSON Schema 2020-12 documents, checked once, and validation into precise faults.

The schema folder holds one directory per schema and one file per version, `<name>/<major>.<minor>.json`,
each with the `$id` `urn:referral-hub:schema:<name>:<version>`. `envelope` and `common` are shared; every
other schema is a template that validates a whole envelope (the envelope plus its own body and rules).
Examples live deeper (`<name>/examples/...`) and are never loaded as schemas. The catalogue takes the
schemas as data; reading them from the folder is `hub.schemas`' job (this module reads no file and no
environment).

Loading fails fast: every schema is checked against the 2020-12 metaschema, its `$id` against its path and
every `$ref` against the registry, so a broken catalogue stops the hub at start instead of at the first
message. Validation checks the envelope first, so a malformed envelope is reported as such and is not
blamed on a template, and only then looks up the template that `type` and `version` name.

A fault is an RFC 6901 pointer into the document and a short message built from the schema's constraint,
never from the value sent: precise enough to fix the message, safe to return in a problem response.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

SCHEMA_ID_PREFIX = "urn:referral-hub:schema:"
ENVELOPE = ("envelope", "1.0")
SHARED_SCHEMAS = frozenset({"envelope", "common"})
_MAX_QUOTE = 80


@dataclass(frozen=True, order=True)
class SchemaFault:
    """One reason a document does not match its template."""

    pointer: str  # RFC 6901, into the document; a missing property's pointer names the property
    message: str


class UnknownTemplateError(Exception):
    """The document names a template type or version the catalogue does not have."""

    def __init__(self, name: object, version: object) -> None:
        super().__init__(f"unknown template {_quote(name)} version {_quote(version)}")
        self.name = name
        self.version = version


class TemplateCatalogError(Exception):
    """The schema folder is unusable: unreadable JSON, an invalid schema, a wrong `$id`, a dangling `$ref`."""


def schema_id(name: str, version: str) -> str:
    return f"{SCHEMA_ID_PREFIX}{name}:{version}"


class TemplateCatalog:
    """Every schema by (name, version), and one compiled validator per template."""

    def __init__(self, schemas: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
        for (name, version), schema in schemas.items():
            _check_schema(name, version, schema)
        if ENVELOPE not in schemas:
            raise TemplateCatalogError(f"the catalogue has no {ENVELOPE[0]} {ENVELOPE[1]} schema")
        registry: Registry[Any] = Registry().with_resources(
            (schema_id(*key), DRAFT202012.create_resource(schema)) for key, schema in schemas.items()
        )
        registry = registry.crawl()
        for key, schema in schemas.items():
            _check_refs(registry, schema_id(*key), schema)
        self._schemas: dict[tuple[str, str], Mapping[str, Any]] = dict(schemas)
        self._envelope = _compile(schemas[ENVELOPE], registry)
        self._validators = {
            key: _compile(schema, registry) for key, schema in schemas.items() if key[0] not in SHARED_SCHEMAS
        }
        compiled = jsonschema_rs.Registry(
            [(schema_id(*key), dict(schema)) for key, schema in schemas.items()]
        )
        self._fast_envelope = _compile_fast(schemas[ENVELOPE], compiled)
        self._fast = {key: _compile_fast(schemas[key], compiled) for key in self._validators}

    def templates(self) -> list[tuple[str, str]]:
        return sorted(self._validators)

    def schema(self, name: str, version: str) -> Mapping[str, Any]:
        try:
            return self._schemas[(name, version)]
        except KeyError:
            raise UnknownTemplateError(name, version) from None

    def validate(self, document: object) -> list[SchemaFault]:
        """The document's faults, sorted by pointer; empty when it is valid. Raises UnknownTemplateError."""
        if self.is_valid(document):
            return []
        return self.explain(document)

    def is_valid(self, document: object) -> bool:
        """The compiled validators' verdict alone: the hot path for documents that are valid."""
        if not isinstance(document, Mapping) or not self._fast_envelope.is_valid(document):
            return False
        name, version = document.get("type"), document.get("version")
        fast = self._fast.get((name, version)) if isinstance(name, str) and isinstance(version, str) else None
        return fast is not None and fast.is_valid(document)

    def explain(self, document: object) -> list[SchemaFault]:
        """The reference validator's faults (the same verdict as `is_valid`, with the reasons)."""
        faults = _faults(self._envelope.iter_errors(document))
        if faults or not isinstance(document, Mapping):
            return faults or [SchemaFault("", "must be a JSON object")]
        name, version = document.get("type"), document.get("version")
        validator = None
        if isinstance(name, str) and isinstance(version, str):
            validator = self._validators.get((name, version))
        if validator is None:
            raise UnknownTemplateError(name, version)
        return _faults(validator.iter_errors(document))


def _check_schema(name: str, version: str, schema: object) -> None:
    where = f"schema {name} {version}"
    if not isinstance(schema, Mapping):
        raise TemplateCatalogError(f"{where}: not a JSON object")
    if not is_valid_schema(schema):
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise TemplateCatalogError(f"{where}: not a valid 2020-12 schema: {exc.message}") from exc
        raise TemplateCatalogError(f"{where}: not a valid 2020-12 schema")
    if schema.get("$schema") != Draft202012Validator.META_SCHEMA["$id"]:
        raise TemplateCatalogError(f"{where}: $schema must be {Draft202012Validator.META_SCHEMA['$id']}")
    if schema.get("$id") != schema_id(name, version):
        raise TemplateCatalogError(f"{where}: $id must be {schema_id(name, version)}")


def is_valid_schema(schema: Mapping[str, Any]) -> bool:
    """Whether `schema` is a valid 2020-12 schema, formats included, every regex one Python compiles.

    The same verdict as the reference validator's `check_schema` (which then says what is wrong), as for
    documents: jsonschema-rs decides (under a millisecond for the whole catalogue, against 70 ms), and
    the regexes are compiled by Python's `re` too, which the reference validator's faults use and which
    takes fewer than ECMA's (`\\p{L}`). `tests/test_templates.py` feeds both the same schemas."""
    return _metaschema().is_valid(dict(schema)) and all(_compiles(p) for p in _patterns(schema))


@functools.cache
def _metaschema() -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator(
        {"$ref": Draft202012Validator.META_SCHEMA["$id"]}, validate_formats=True
    )


def _patterns(node: object) -> Iterator[str]:
    """Every `pattern` and `patternProperties` regex of a schema (and any other string under a "pattern"
    key: stricter, never weaker)."""
    if isinstance(node, Mapping):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        if isinstance(node.get("patternProperties"), Mapping):
            yield from (key for key in node["patternProperties"] if isinstance(key, str))
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _check_refs(registry: Registry[Any], base: str, schema: Mapping[str, Any]) -> None:
    resolver = registry.resolver(base_uri=base)
    for ref in _refs(schema):
        try:
            resolver.lookup(ref)
        except Unresolvable as exc:
            raise TemplateCatalogError(f"{base}: $ref {ref} does not resolve") from exc


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, Mapping):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _compile(schema: Mapping[str, Any], registry: Registry[Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _compile_fast(schema: Mapping[str, Any], registry: jsonschema_rs.Registry) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator(dict(schema), registry=registry, validate_formats=True)


def _faults(errors: Iterable[ValidationError]) -> list[SchemaFault]:
    found = [_most_specific(error) for error in errors]
    # A uuid or timestamp has both a pattern (for validators that skip formats) and a format: say it once.
    formats = {tuple(error.absolute_path) for error in found if error.validator == "format"}
    found = [e for e in found if e.validator != "pattern" or tuple(e.absolute_path) not in formats]
    return sorted({fault for error in found for fault in _faults_of(error)})


def _most_specific(error: ValidationError) -> ValidationError:
    """Descend into anyOf / oneOf to the alternative that came closest, unless only presence was missing."""
    if error.validator not in ("anyOf", "oneOf") or not error.context or _alternatives_required(error):
        return error
    return best_match([error]) or error


def _alternatives_required(error: ValidationError) -> bool:
    only_presence = all(alternative.validator == "required" for alternative in error.context)
    return error.validator == "anyOf" and bool(error.context) and only_presence


def _faults_of(error: ValidationError) -> Iterator[SchemaFault]:
    pointer = _pointer(error.absolute_path)
    if _alternatives_required(error):
        yield _one_of_required(error, pointer)
    elif error.validator == "required":
        yield from _missing(error, pointer)
    elif error.validator in ("additionalProperties", "unevaluatedProperties"):
        yield from _unexpected(error, pointer)
    elif error.validator in ("anyOf", "oneOf"):
        yield SchemaFault(pointer, "matches none of the allowed forms")
    elif error.validator == "not" and error.validator_value in ({}, True):
        # "must be absent" is written {"not": {}}, not false: jsonschema drops the path of a false subschema.
        yield SchemaFault(pointer, "is not allowed here")
    else:
        yield SchemaFault(pointer, _describe(error))


def _missing(error: ValidationError, pointer: str) -> Iterator[SchemaFault]:
    # jsonschema reports one error per missing property without saying which: name them all, the set dedupes.
    for name in _names(error.validator_value):
        if isinstance(error.instance, Mapping) and name not in error.instance:
            yield SchemaFault(f"{pointer}/{_escape(name)}", f"required property {_quote(name)} is missing")


def _unexpected(error: ValidationError, pointer: str) -> Iterator[SchemaFault]:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = schema.get("properties", {})
    patterns = [re.compile(pattern) for pattern in schema.get("patternProperties", {})]
    extra = [
        key
        for key in (error.instance if isinstance(error.instance, Mapping) else {})
        if key not in known and not any(pattern.search(key) for pattern in patterns)
    ]
    for key in extra:
        yield SchemaFault(f"{pointer}/{_escape(key)}", f"property {_quote(key)} is not allowed here")
    if not extra:
        yield SchemaFault(pointer, _describe(error))


def _one_of_required(error: ValidationError, pointer: str) -> SchemaFault:
    names = list(dict.fromkeys(name for alt in error.context for name in _names(alt.validator_value)))
    listed = ", ".join(map(_quote, names))
    return SchemaFault(f"{pointer}/{_escape(names[0])}", f"one of {listed} is required")


def _names(value: object) -> list[str]:
    return [name for name in value if isinstance(name, str)] if isinstance(value, list) else []


def _pointer(path: Iterable[str | int]) -> str:
    return "".join(f"/{_escape(part)}" for part in path)


def _escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _quote(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_QUOTE else text[: _MAX_QUOTE - 3] + "..."


_CONSTRAINTS: dict[str, str] = {
    "format": "must be a valid {value}",
    "pattern": "does not have the required form",
    "minLength": "must be at least {value} characters long",
    "maxLength": "must be at most {value} characters long",
    "minItems": "must have at least {value} item(s)",
    "maxItems": "must have at most {value} item(s)",
    "uniqueItems": "must not repeat an item",
    "minimum": "must be at least {value}",
    "maximum": "must be at most {value}",
    "exclusiveMinimum": "must be greater than {value}",
    "exclusiveMaximum": "must be less than {value}",
    "type": "must be of type {value}",
    "minProperties": "must have at least {value} member(s)",
    "maxProperties": "must have at most {value} member(s)",
}


def _describe(error: ValidationError) -> str:
    """Say which constraint failed, from the schema alone: never quote the value that was sent, which
    may be the URL of reported content or a victim's words (problem details can end up in logs)."""
    keyword, value = str(error.validator), error.validator_value
    if keyword == "enum" and isinstance(value, list):
        return "must be one of " + ", ".join(_quote(v) for v in value)
    if keyword == "const":
        return f"must be {_quote(value)}"
    if keyword == "not":
        return "has a value that is not allowed here"
    template = _CONSTRAINTS.get(keyword)
    if template is None:
        return f"does not satisfy '{keyword}'"
    shown = " or ".join(value) if isinstance(value, list) else value
    return template.format(value=shown)
