"""The published templates, their examples, and the catalogue that validates messages against them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hub.core.templates import (
    SchemaFault,
    TemplateCatalog,
    TemplateCatalogError,
    UnknownTemplateError,
    is_valid_schema,
    schema_id,
)
from hub.schemas import default_schema_root, load_catalog

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
TEMPLATES = [
    "acknowledgement",
    "assistance-request",
    "case-closure",
    "clock-result",
    "counter-notice",
    "deletion-confirmation",
    "escalation",
    "information-request",
    "information-response",
    "match-report",
    "status-update",
    "takedown-request",
    "withdrawal",
]
UNKNOWN_TEMPLATE = "court-order"  # a name no template has


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _schema_files() -> list[Path]:
    return sorted(SCHEMAS.glob("*/*.json"))


def _examples(kind: str) -> list[Any]:
    return [
        pytest.param(template, path, id=f"{template}/{path.name}")
        for template in TEMPLATES
        for path in sorted((SCHEMAS / template / "examples" / kind).glob("*.json"))
    ]


def _example(template: str, name: str = "minimal.json") -> dict[str, Any]:
    document: dict[str, Any] = _read(SCHEMAS / template / "examples" / "valid" / name)
    return document


def _pointers(faults: list[SchemaFault]) -> list[str]:
    return [fault.pointer for fault in faults]


@pytest.fixture(scope="module")
def catalog() -> TemplateCatalog:
    return load_catalog(SCHEMAS)


# --- the schemas ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _schema_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_schema_passes_the_2020_12_metaschema(path: Path) -> None:
    schema = _read(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"]
    assert schema["description"]


@pytest.mark.parametrize("path", _schema_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_schema_id_matches_its_path(path: Path) -> None:
    assert _read(path)["$id"] == f"urn:referral-hub:schema:{path.parent.name}:{path.stem}"


def test_every_template_is_listed(catalog: TemplateCatalog) -> None:
    assert catalog.templates() == [(template, "1.0") for template in TEMPLATES]
    on_disk = {path.parent.name for path in _schema_files()} - {"envelope", "common"}
    assert on_disk == set(TEMPLATES)


def test_schema_lookup_includes_shared_schemas(catalog: TemplateCatalog) -> None:
    assert catalog.schema("envelope", "1.0")["$id"] == schema_id("envelope", "1.0")
    assert catalog.schema("common", "1.0")["$id"] == schema_id("common", "1.0")
    assert catalog.schema("takedown-request", "1.0")["$id"] == "urn:referral-hub:schema:takedown-request:1.0"
    with pytest.raises(UnknownTemplateError, match=UNKNOWN_TEMPLATE):
        catalog.schema(UNKNOWN_TEMPLATE, "1.0")


# --- the published examples -----------------------------------------------------------------------


@pytest.mark.parametrize(("template", "path"), _examples("valid"))
def test_valid_example_has_no_fault(catalog: TemplateCatalog, template: str, path: Path) -> None:
    document = _read(path)
    assert document["type"] == template
    assert catalog.validate(document) == []


@pytest.mark.parametrize(("template", "path"), _examples("invalid"))
def test_invalid_example_fails_where_expected_and_only_there(
    catalog: TemplateCatalog, template: str, path: Path
) -> None:
    expected = _read(path.parent.parent / "expected-faults.json")[path.name]
    document = _read(path)
    assert document["type"] == template
    faults = catalog.validate(document)
    assert expected in _pointers(faults)
    # Each invalid example is wrong in exactly one way: every fault lies at or under that one place.
    assert all(p == expected or p.startswith(expected + "/") for p in _pointers(faults)), faults


@pytest.mark.parametrize("template", TEMPLATES)
def test_expected_lists_exactly_the_invalid_examples(template: str) -> None:
    folder = SCHEMAS / template / "examples"
    invalid = {path.name for path in (folder / "invalid").glob("*.json")}
    assert set(_read(folder / "expected-faults.json")) == invalid
    assert len(invalid) >= 4
    assert {"minimal.json", "full.json"} <= {path.name for path in (folder / "valid").glob("*.json")}


def test_no_valid_takedown_example_depicts_a_minor() -> None:
    for path in (SCHEMAS / "takedown-request" / "examples" / "valid").glob("*.json"):
        assert _read(path)["body"]["minor_depicted"] == "no", path.name


def test_schema_admits_every_minor_depicted_value_so_code_can_refuse_it(catalog: TemplateCatalog) -> None:
    for answer in ("yes", "unknown"):
        document = _example("takedown-request")
        document["body"]["minor_depicted"] = answer
        assert catalog.validate(document) == []


# --- formats and value rules ----------------------------------------------------------------------


def test_format_checker_has_the_formats_the_contract_relies_on() -> None:
    checker = Draft202012Validator.FORMAT_CHECKER
    assert {"uri", "date-time", "uuid"} <= set(checker.checkers)
    assert not checker.conforms("https://example.com/a b", "uri")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["id"], "not-a-uuid"),
        (["id"], "5b0f3c2e-8a41-4d6b-9e27-c1d4a7f08b3g"),
        (["created_at"], "2026-02-30T09:15:00Z"),  # the right shape, an impossible day
        (["created_at"], "2026-06-01 09:15:00"),
        (["body", "authorisation", "signed_at"], "2026-13-01T08:50:00Z"),
        (["body", "content", 0, "url"], "https://media.example.com/v/8f3a21 copy"),  # http, but no URI
        (["body", "content", 0, "url"], "ftp://files.example.com/8f3a21.jpg"),
        (["body", "content", 0, "url"], "media.example.com/v/8f3a21"),
    ],
)
def test_formats_are_enforced(catalog: TemplateCatalog, path: list[Any], value: str) -> None:
    document = _example("takedown-request")
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert _pointers(catalog.validate(document)) == ["/" + "/".join(map(str, path))]


def test_uuid_format_is_checked_even_without_a_pattern() -> None:
    # The published uuid definition also has a pattern; this proves the format check on its own.
    envelope = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id("envelope", "1.0"),
        "title": "t",
        "type": "object",
        "properties": {"id": {"type": "string", "format": "uuid"}},
    }
    bare = TemplateCatalog({("envelope", "1.0"): envelope})
    assert _pointers(bare.validate({"id": "5b0f3c2e8a414d6b9e27c1d4a7f08b35xx"})) == ["/id"]
    with pytest.raises(UnknownTemplateError):  # the envelope passed; the bare catalogue has no template
        bare.validate({"id": "5b0f3c2e-8a41-4d6b-9e27-c1d4a7f08b35"})


@pytest.mark.parametrize(("alg", "length"), [("sha256", 64), ("md5", 32), ("pdq", 64)])
def test_hash_length_depends_on_the_algorithm(catalog: TemplateCatalog, alg: str, length: int) -> None:
    document = _example("takedown-request")
    locator = document["body"]["content"][0]
    locator["hashes"] = [{"alg": alg, "value": "a" * length}]
    assert catalog.validate(document) == []
    locator["hashes"] = [{"alg": alg, "value": "a" * (96 - length)}]
    assert _pointers(catalog.validate(document)) == ["/body/content/0/hashes/0/value"]
    locator["hashes"] = [{"alg": alg, "value": "A" * length}]
    assert _pointers(catalog.validate(document)) == ["/body/content/0/hashes/0/value"]


def test_answers_need_a_case_and_new_referrals_must_not_have_one(catalog: TemplateCatalog) -> None:
    withdrawal = _example("withdrawal")
    del withdrawal["case"]
    assert _pointers(catalog.validate(withdrawal)) == ["/case"]
    request = _example("assistance-request")
    request["case"] = "a3e91c57-2f08-4b6d-8c14-7d5e0b9f2a61"
    assert _pointers(catalog.validate(request)) == ["/case"]


# --- faults ---------------------------------------------------------------------------------------


def test_unknown_type_or_version_raises(catalog: TemplateCatalog) -> None:
    document = _example("withdrawal")
    for template, version in ((UNKNOWN_TEMPLATE, "1.0"), ("withdrawal", "2.0")):
        document["type"], document["version"] = template, version
        with pytest.raises(UnknownTemplateError) as raised:
            catalog.validate(document)
        assert template in str(raised.value)
        assert version in str(raised.value)


def test_a_broken_envelope_is_reported_before_the_template_is_looked_up(catalog: TemplateCatalog) -> None:
    document = _example("withdrawal")
    document["type"] = UNKNOWN_TEMPLATE
    del document["from"]
    assert catalog.validate(document) == [SchemaFault("/from", 'required property "from" is missing')]


@pytest.mark.parametrize("document", [None, "text", 42, [], [{"id": "x"}], True])
def test_a_non_object_document_gives_a_fault_at_the_root(catalog: TemplateCatalog, document: object) -> None:
    faults = catalog.validate(document)
    assert _pointers(faults) == [""]


def test_missing_properties_point_at_the_property(catalog: TemplateCatalog) -> None:
    faults = catalog.validate({"body": {}})
    assert _pointers(faults) == ["/created_at", "/from", "/id", "/to", "/type", "/version"]


def test_locator_without_url_or_item_id_names_both(catalog: TemplateCatalog) -> None:
    document = _example("takedown-request")
    document["body"]["content"].append({"description": "no location"})
    [fault] = catalog.validate(document)
    assert fault.pointer == "/body/content/1/url"
    assert "url" in fault.message
    assert "platform_item_id" in fault.message


def test_pointers_are_escaped_per_rfc_6901(catalog: TemplateCatalog) -> None:
    document = _example("acknowledgement")
    document["body"]["a/b~c"] = 1
    [fault] = catalog.validate(document)
    assert fault == SchemaFault("/body/a~1b~0c", 'property "a/b~c" is not allowed here')


def test_messages_do_not_echo_long_values(catalog: TemplateCatalog) -> None:
    document = _example("takedown-request")
    document["body"]["content"][0]["url"] = "https://media.example.com/ " + "x" * 5000
    document["body"]["notes"] = "y" * 3000
    faults = catalog.validate(document)
    assert sorted(set(_pointers(faults))) == ["/body/content/0/url", "/body/notes"]
    for fault in faults:
        assert len(fault.message) < 140, fault.message
        assert "x" * 81 not in fault.message
        assert "y" * 81 not in fault.message


def test_faults_are_sorted_and_not_repeated(catalog: TemplateCatalog) -> None:
    document = _example("takedown-request", "full.json")
    document["to"] = []
    document["id"] = "nope"
    document["created_at"] = "yesterday"
    faults = catalog.validate(document)
    assert faults == sorted(set(faults))
    assert _pointers(faults) == ["/created_at", "/id", "/to"]


def test_status_update_rules_follow_the_status(catalog: TemplateCatalog) -> None:
    document = _example("status-update")
    document["body"] = {"status": "actioned"}
    assert _pointers(catalog.validate(document)) == ["/body/action", "/body/decided_at"]
    document["body"] = {"status": "declined", "decided_at": "2026-06-01T17:55:00Z", "action": "removed"}
    assert _pointers(catalog.validate(document)) == ["/body/action", "/body/decline_reason"]


# --- loading --------------------------------------------------------------------------------------


def test_default_schema_root(tmp_path: Path) -> None:
    assert default_schema_root({"HUB_SCHEMAS_DIR": str(tmp_path)}) == tmp_path
    assert default_schema_root({}).resolve() in {SCHEMAS, SCHEMAS.parent / "hub" / "_schemas"}
    with pytest.raises(FileNotFoundError, match="HUB_SCHEMAS_DIR"):
        default_schema_root({"HUB_SCHEMAS_DIR": str(tmp_path / "absent")})


def _copy_schemas(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    return root


def _rewrite(path: Path, change: Any) -> None:
    schema = _read(path)
    change(schema)
    path.write_text(json.dumps(schema), encoding="utf-8")


def test_a_copy_loads_and_examples_are_not_schemas(tmp_path: Path) -> None:
    root = _copy_schemas(tmp_path)
    assert load_catalog(root).templates() == [(template, "1.0") for template in TEMPLATES]


@pytest.mark.parametrize(
    ("file", "change", "complaint"),
    [
        ("withdrawal/1.0.json", lambda s: s.update({"$id": schema_id("withdrawal", "2.0")}), "must be"),
        ("withdrawal/1.0.json", lambda s: s.update({"type": 5}), "2020-12"),
        ("withdrawal/1.0.json", lambda s: s["allOf"].append({"$ref": "#/$defs/nowhere"}), "nowhere"),
        ("common/1.0.json", lambda s: s["$defs"].pop("uuid"), "uuid"),
    ],
)
def test_a_broken_catalogue_does_not_load(tmp_path: Path, file: str, change: Any, complaint: str) -> None:
    root = _copy_schemas(tmp_path)
    _rewrite(root / file, change)
    with pytest.raises(TemplateCatalogError, match=complaint):
        load_catalog(root)


def test_a_catalogue_without_envelope_does_not_load(tmp_path: Path) -> None:
    root = _copy_schemas(tmp_path)
    shutil.rmtree(root / "envelope")
    with pytest.raises(TemplateCatalogError, match="envelope"):
        load_catalog(root)


def test_unreadable_json_does_not_load(tmp_path: Path) -> None:
    root = _copy_schemas(tmp_path)
    (root / "withdrawal" / "1.0.json").write_text("{", encoding="utf-8")
    with pytest.raises(TemplateCatalogError, match="withdrawal"):
        load_catalog(root)


def test_catalogue_schemas_are_what_is_on_disk(catalog: TemplateCatalog) -> None:
    for path in _schema_files():
        assert catalog.schema(path.parent.name, path.stem) == _read(path)


BROKEN_SCHEMAS = [
    {"type": 5},
    {"type": "text"},
    {"pattern": "(["},
    {"pattern": "\\p{L}+"},  # ECMA takes it, Python's re (the reference validator's faults) does not
    {"patternProperties": {"(?P<": {}}},
    {"properties": {"a": {"pattern": "a{2,1}"}}},
    {"$id": "::not a uri"},
    {"$ref": "##%%"},
    {"format": 5},
    {"minLength": -1},
    {"maxItems": 1.5},
    {"required": "id"},
    {"required": ["id", "id"]},
    {"enum": "a"},
    {"properties": {"a": 5}},
    {"allOf": []},
    {"$defs": {"x": {"type": ["string", "strin"]}}},
    {"unevaluatedProperties": "no"},
    {"items": [{"type": "string"}]},
    {"dependentRequired": {"a": "b"}},
]


@pytest.mark.parametrize(
    "schema",
    [pytest.param(_read(path), id=f"{path.parent.name}/{path.name}") for path in _schema_files()]
    + [pytest.param(schema, id=json.dumps(schema)) for schema in BROKEN_SCHEMAS],
)
def test_the_fast_schema_check_agrees_with_the_reference_validator(schema: Any) -> None:
    """Loading decides with jsonschema-rs (`is_valid_schema`); the reference validator's `check_schema`
    must give the same verdict on every shipped schema and every broken one."""
    reference = Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    assert is_valid_schema(schema) == reference.is_valid(schema)
