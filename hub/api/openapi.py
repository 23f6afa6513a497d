"""The API as an OpenAPI 3.1 document, built from code (a dict) and served at `/openapi.json`.

Every route `hub.api.routes.add_routes` registers is described here (tests/test_openapi.py compares the
two both ways). Message templates are not copied in: each is referenced by the URL it is published at,
`/v1/schemas/{type}/{version}`, through `externalDocs` and the `x-templates` list of the submit operation.
"""

from __future__ import annotations

from typing import Any

from hub.api.openapi_case_search import case_search_paths, case_search_schemas
from hub.api.openapi_coop import coop_paths, coop_schemas
from hub.api.openapi_federation import federation_paths, federation_schemas
from hub.api.openapi_parts import (
    BEARER,
    CURSOR,
    JSON,
    PERIOD,
)
from hub.api.openapi_parts import json_response as _json
from hub.api.openapi_parts import path_parameter as _path
from hub.api.openapi_parts import problems as _problems
from hub.api.openapi_parts import query_parameter as _query
from hub.api.openapi_parts import ref as _ref
from hub.api.openapi_signals import signal_paths, signal_schemas
from hub.api.parameters import CASES_LIMIT, INBOX_LIMIT, INBOX_WAIT
from hub.api.problems import PROBLEM_BASE, PROBLEMS
from hub.core.templates import TemplateCatalog
from hub.services.inbox import MAX_PAGE

OPENAPI_VERSION = "3.1.0"


def _schemas() -> dict[str, Any]:
    any_object: dict[str, Any] = {"type": "object"}
    return {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details; `type` is " + PROBLEM_BASE + "<code>.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "enum": [PROBLEM_BASE + code for code in PROBLEMS]},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
            },
            "additionalProperties": True,
        },
        "Receipt": {
            "type": "object",
            "required": ["message_id", "case_id", "payload_sha256", "accepted_at", "receipt"],
            "properties": {
                "message_id": {"type": "string", "format": "uuid"},
                "case_id": {"type": "string", "format": "uuid"},
                "payload_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "accepted_at": {"type": "string", "format": "date-time"},
                "receipt": {"type": "string", "description": "the hub's signed receipt, a compact JWS"},
            },
        },
        "InboxPage": {
            "type": "object",
            "required": ["messages", "cursor"],
            "properties": {"messages": {"type": "array", "items": any_object}, "cursor": {"type": "string"}},
        },
        "CaseMessages": {
            "type": "object",
            "required": ["messages"],
            "properties": {"messages": {"type": "array", "items": any_object}},
        },
        "Ack": {
            "type": "object",
            "required": ["message_ids"],
            "properties": {
                "message_ids": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_PAGE,
                    "items": {"type": "string", "format": "uuid"},
                }
            },
        },
        "Retrieved": {
            "type": "object",
            "required": ["retrieved"],
            "properties": {"retrieved": {"type": "array", "items": {"type": "string"}}},
        },
        "CaseList": {
            "type": "object",
            "required": ["cases", "next_cursor"],
            "properties": {
                "cases": {"type": "array", "items": any_object},
                "next_cursor": {"type": ["string", "null"]},
                "due_today": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "how many of the caller's cases (whatever the filters) have a clock it "
                    "sees running and due before the end of the current day in time_zone (UTC unless "
                    "given), past due ones included",
                },
            },
        },
        "Case": any_object,
        "CaseProofs": {
            "type": "object",
            "required": ["case_id", "checkpoint", "entries", "not_yet_checkpointed"],
            "properties": {
                "case_id": {"type": "string", "format": "uuid"},
                "checkpoint": {"type": ["string", "null"], "description": "compact JWS by the hub"},
                "entries": {"type": "array", "items": any_object},
                "not_yet_checkpointed": {"type": "integer", "minimum": 0},
            },
        },
        "Share": {
            "type": "object",
            "required": ["participant_id"],
            "properties": {"participant_id": {"type": "string", "minLength": 1}},
        },
        "Shared": {
            "type": "object",
            "required": ["case_id", "shared_with"],
            "properties": {"case_id": {"type": "string"}, "shared_with": {"type": "string"}},
        },
        "Participant": {
            "type": "object",
            "required": ["id", "name", "kind", "country", "accepts", "push_delivery", "adapter"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "kind": {"type": "string"},
                "country": {"type": "string"},
                "accepts": {"type": "array", "items": {"type": "string"}},
                "push_delivery": {"type": "boolean"},
                "adapter": {"type": "string"},
                "domains": {"type": "array", "items": {"type": "string"}},
                "trusted_flagger": {"type": "boolean"},
                "hash_signals": {
                    "type": "boolean",
                    "description": "a platform opted in to the hash signals of referrals not addressed to it",
                },
                "contact_email_registered": {
                    "type": "boolean",
                    "description": "the hub has a contact address for it (told there when its push "
                    "destination is parked); the address is shown only in its own entry",
                },
                "home_hub": {
                    "type": ["string", "null"],
                    "description": "for a participant of a peer hub (id '<id>@<hub>'), the hub whose "
                    "vouching feed lists it (docs/federation.md); null for this hub's own",
                },
                "home_proof": {
                    "oneOf": [_ref("ParticipantLog"), {"type": "null"}],
                    "description": "for a participant of a peer hub (shown by GET /v1/participants/{id}): "
                    "its home hub's log document of it, as its latest feed carried it; a client trusts "
                    "its keys only by this proof, checked with the home hub's key (docs/federation.md)",
                },
                "jwks": _ref("Jwks"),
            },
        },
        "ParticipantLog": {
            "type": "object",
            "required": ["participant_id", "checkpoint", "entries", "not_yet_checkpointed"],
            "properties": {
                "participant_id": {"type": "string"},
                "checkpoint": {"type": ["string", "null"], "description": "compact JWS by the hub"},
                "entries": {"type": "array", "items": any_object},
                "not_yet_checkpointed": {"type": "integer", "minimum": 0},
            },
        },
        "LatestCheckpoint": {
            "type": "object",
            "required": ["tree_size", "checkpoint", "cosignatures"],
            "properties": {
                "tree_size": {"type": "integer"},
                "checkpoint": {"type": "string"},
                "cosignatures": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["witness_id", "cosignature"],
                        "properties": {"witness_id": {"type": "string"}, "cosignature": {"type": "string"}},
                    },
                },
            },
        },
        "CosignatureRequest": {
            "type": "object",
            "required": ["cosignature"],
            "properties": {"cosignature": {"type": "string", "maxLength": 2048}},
        },
        "CosignatureAccepted": {
            "type": "object",
            "required": ["tree_size", "witness_id"],
            "properties": {"tree_size": {"type": "integer"}, "witness_id": {"type": "string"}},
        },
        "ConsistencyProof": {
            "type": "object",
            "required": ["first", "second", "first_checkpoint", "second_checkpoint", "proof"],
            "properties": {
                "first": {"type": "integer"},
                "second": {"type": "integer"},
                "first_checkpoint": {"type": "string"},
                "second_checkpoint": {"type": "string"},
                "proof": {"type": "array", "items": {"type": "string", "description": "base64 SHA-256"}},
            },
        },
        "BindingRequest": {
            "type": "object",
            "required": ["binding"],
            "properties": {"binding": {"type": "string", "description": "compact JWS"}},
        },
        "BindingApplied": {
            "type": "object",
            "required": ["participant_id", "operation", "subject"],
            "properties": {
                "participant_id": {"type": "string"},
                "operation": {
                    "type": "string",
                    "enum": [
                        "add-key",
                        "revoke-key",
                        "set-delivery",
                        "add-destination",
                        "remove-destination",
                    ],
                },
                "subject": {
                    "type": "string",
                    "description": "the kid added or revoked, 'delivery', or the destination's name",
                },
            },
        },
        "OwnEntry": {
            "type": "object",
            "required": ["id", "jwks", "delivery", "delivery_binding", "epoch"],
            "properties": {
                "id": {"type": "string"},
                "jwks": _ref("Jwks"),
                "delivery": any_object,
                "delivery_binding": {"type": ["string", "null"]},
                "destinations": {
                    "type": "array",
                    "description": "further destinations each message also goes to (issue 19), each "
                    "with the add-destination binding its participant signed",
                    "items": {
                        "type": "object",
                        "required": ["name", "endpoint", "adapter", "adapter_config", "binding"],
                        "properties": {
                            "name": {"type": "string"},
                            "endpoint": {"type": ["string", "null"]},
                            "adapter": {"type": "string"},
                            "adapter_config": any_object,
                            "binding": {"type": "string"},
                        },
                    },
                },
                "epoch": {"type": "integer", "minimum": 0},
            },
        },
        "ParticipantList": {
            "type": "object",
            "required": ["participants"],
            "properties": {"participants": {"type": "array", "items": _ref("Participant")}},
        },
        "Jwks": {
            "type": "object",
            "description": "RFC 7517 JWK Set; directory keys add status, not_before, not_after, revoked_at",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty"],
                        "properties": {"kty": {"type": "string"}},
                    },
                }
            },
        },
        "SchemaList": {
            "type": "object",
            "required": ["schemas"],
            "properties": {
                "schemas": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "version", "href"],
                        "properties": {
                            "type": {"type": "string"},
                            "version": {"type": "string"},
                            "href": {"type": "string", "format": "uri-reference"},
                        },
                    },
                }
            },
        },
        "Stats": any_object,
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string"}, "hub_id": {"type": "string"}},
        },
        "Ready": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "unavailable"]},
                "schema_version": {"type": ["integer", "null"]},
                "expected": {"type": "integer"},
                "database": {"type": "string"},
            },
        },
    }


def _paths(catalog: TemplateCatalog) -> dict[str, Any]:
    """Every route `hub.api.routes.add_routes` registers, in the order the document lists them."""
    return {
        **_message_paths(catalog),
        **_inbox_paths(),
        **_case_paths(),
        **case_search_paths(),
        **_directory_paths(),
        **federation_paths(),
        **_stats_paths(),
        **_schema_paths(),
        **signal_paths(),
        **coop_paths(),
        **_operations_paths(),
    }


def _components() -> dict[str, Any]:
    """The schemas the operations name, and how a participant authenticates."""
    return {
        "schemas": {
            **_schemas(),
            **case_search_schemas(),
            **signal_schemas(),
            **federation_schemas(),
            **coop_schemas(),
        },
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "an EdDSA JWT signed by the participant (aud: the hub id, single use)",
            }
        },
    }


def build_document(catalog: TemplateCatalog, hub_id: str = "referral-hub") -> dict[str, Any]:
    """The whole document: what it is, its paths (one builder per part of the API), its components."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Cross-border referral hub",
            "version": "1",
            "description": f"The API of hub {hub_id}. Errors are RFC 9457 problem documents.",
        },
        "servers": [{"url": "/"}],
        "externalDocs": {"description": "message templates (JSON Schema 2020-12)", "url": "/v1/schemas"},
        "paths": _paths(catalog),
        "components": _components(),
    }


def _message_paths(catalog: TemplateCatalog) -> dict[str, Any]:
    """`POST /v1/messages`, with the templates a message may use."""
    templates = [
        {"type": name, "version": version, "schema": f"/v1/schemas/{name}/{version}"}
        for name, version in catalog.templates()
    ]
    jws = {
        "type": "string",
        "description": "a signed envelope; its payload validates against the template its type names",
    }
    return {
        "/v1/messages": {
            "post": {
                "operationId": "submitMessage",
                "summary": "Submit one signed message",
                "description": "The JWS payload is an envelope whose body matches its template, published "
                "at /v1/schemas/{type}/{version} (see x-templates).",
                "externalDocs": {"description": "the message templates (JSON Schema)", "url": "/v1/schemas"},
                "x-templates": templates,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/jose": {"schema": jws},
                        "application/jose+json": {
                            "schema": {"type": "object", "description": "RFC 7515 JSON serialisation"}
                        },
                    },
                },
                "responses": {
                    "202": {
                        **_json(_ref("Receipt"), "Accepted: the hub's signed receipt"),
                        "headers": {"Location": {"schema": {"type": "string"}, "description": "the case"}},
                    },
                    **_problems(400, 401, 403, 409, 410, 413, 415, 422),
                },
            }
        },
    }


def _inbox_paths() -> dict[str, Any]:
    """The pull inbox: read and acknowledge."""
    return {
        "/v1/inbox": {
            "get": {
                "operationId": "readInbox",
                "summary": "The caller's pending messages, oldest first",
                "security": BEARER,
                "parameters": [
                    CURSOR,
                    INBOX_LIMIT.openapi(),
                    INBOX_WAIT.openapi(),
                ],
                "responses": {"200": _json(_ref("InboxPage"), "A page"), **_problems(400, 401)},
            }
        },
        "/v1/inbox/ack": {
            "post": {
                "operationId": "ackInbox",
                "summary": "Mark inbox messages retrieved",
                "security": BEARER,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Ack")}}},
                "responses": {
                    "200": _json(_ref("Retrieved"), "Newly retrieved"),
                    **_problems(400, 401, 413, 415),
                },
            }
        },
    }


def _case_paths() -> dict[str, Any]:
    """Cases: the list, one case, its audit proofs, and sharing."""
    return {
        "/v1/cases": {
            "get": {
                "operationId": "listCases",
                "summary": "Cases the caller is a party to (a regulator: all)",
                "security": BEARER,
                "parameters": [
                    _query("state", "case state", {"type": "string"}),
                    _query("overdue", "only overdue cases", {"type": "string", "enum": ["true", "false"]}),
                    _query("country", "ISO 3166-1 alpha-2", {"type": "string"}),
                    _query("recipient", "participant id", {"type": "string"}),
                    _query(
                        "sort",
                        "opened: newest first (default); due: the cases with a clock running that the "
                        "caller sees, the soonest due first (a cursor belongs to its order)",
                        {"type": "string", "enum": ["opened", "due"]},
                    ),
                    _query(
                        "time_zone",
                        "the IANA time zone whose day due_today counts (e.g. Europe/Berlin; default UTC)",
                        {"type": "string"},
                    ),
                    CURSOR,
                    CASES_LIMIT.openapi(),
                ],
                "responses": {"200": _json(_ref("CaseList"), "A page of cases"), **_problems(400, 401)},
            }
        },
        "/v1/cases/{case_id}": {
            "get": {
                "operationId": "readCase",
                "summary": "A case's status and timeline",
                "security": BEARER,
                "parameters": [_path("case_id", "the case's UUID")],
                "responses": {"200": _json(_ref("Case"), "The case"), **_problems(401, 403, 404, 410)},
            }
        },
        "/v1/cases/{case_id}/messages": {
            "get": {
                "operationId": "readCaseMessages",
                "summary": "The case's signed messages addressed to the caller, however they were delivered",
                "description": "Each the same item as an inbox entry or a webhook's body (the message as "
                "signed, the hub's receipt), oldest first: a party that receives by webhook or e-mail reads "
                "them here too; of a pull inbox, those already retrieved. Reading marks nothing retrieved.",
                "security": BEARER,
                "parameters": [_path("case_id", "the case's UUID")],
                "responses": {
                    "200": _json(_ref("CaseMessages"), "The messages"),
                    **_problems(401, 403, 404),
                },
            }
        },
        "/v1/cases/{case_id}/proofs": {
            "get": {
                "operationId": "readCaseProofs",
                "summary": "The case's audit-log entries the caller may see whole, with inclusion proofs",
                "description": "For a party's evidence bundle (docs/evidence.md): each entry with "
                "its RFC 9162 inclusion proof against the hub-signed checkpoint given; a recipient gets "
                "the entries that concern it and name no other recipient.",
                "security": BEARER,
                "parameters": [_path("case_id", "the case's UUID")],
                "responses": {
                    "200": _json(_ref("CaseProofs"), "The entries and their checkpoint"),
                    **_problems(401, 403, 404),
                },
            }
        },
        "/v1/cases/{case_id}/shares": {
            "post": {
                "operationId": "shareCase",
                "summary": "Share a case with another participant",
                "security": BEARER,
                "parameters": [_path("case_id", "the case's UUID")],
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Share")}}},
                "responses": {
                    "200": _json(_ref("Shared"), "Already shared"),
                    "201": _json(_ref("Shared"), "Shared"),
                    **_problems(400, 401, 403, 404, 409, 410, 413, 415, 422),
                },
            }
        },
    }


_SIZE = {"type": "integer", "minimum": 1, "maximum": 2**62}  # a checkpointed tree size


def _directory_paths() -> dict[str, Any]:
    """The public directory and the hub's own keys."""
    return {
        "/v1/participants": {
            "get": {
                "operationId": "listParticipants",
                "summary": "The public directory",
                "responses": {"200": _json(_ref("ParticipantList"), "Participants"), **_problems()},
            }
        },
        "/v1/participants/{participant_id}": {
            "get": {
                "operationId": "showParticipant",
                "summary": "A participant with its keys",
                "parameters": [_path("participant_id", "the participant's id")],
                "responses": {"200": _json(_ref("Participant"), "The participant"), **_problems(404)},
            }
        },
        "/v1/participants/{participant_id}/log": {
            "get": {
                "operationId": "participantLog",
                "summary": "The participant's directory changes, each with its inclusion proof",
                "description": "The audit-log entries of every change of the participant's entry "
                "(registered, keys added, bound, revoked, reset, delivery bound), each with an RFC 9162 "
                "inclusion proof "
                "to the latest checkpoint; hub keys check-log --participant holds the directory's keys "
                "against them.",
                "parameters": [_path("participant_id", "the participant's id")],
                "responses": {"200": _json(_ref("ParticipantLog"), "The entries"), **_problems(404)},
            }
        },
        "/v1/directory/bindings": {
            "post": {
                "operationId": "publishBinding",
                "summary": "Publish a change to the caller's own directory entry, signed by the caller",
                "description": "A binding (hub keys bind; docs/security.md, 'A directory participants can "
                "check'): a compact JWS, typ hub-directory-binding+jwt, by one of the caller's current "
                "signing keys, adding a key (a new signing key with proof of possession), revoking one or "
                "setting the delivery address. The operator can add none of these on the caller's behalf.",
                "security": BEARER,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("BindingRequest")}}},
                "responses": {
                    "201": _json(_ref("BindingApplied"), "Applied"),
                    **_problems(400, 401, 403, 409, 413, 415, 422),
                },
            }
        },
        "/v1/directory/self": {
            "get": {
                "operationId": "ownEntry",
                "summary": "The caller's own entry as the hub uses it, delivery address included",
                "security": BEARER,
                "responses": {"200": _json(_ref("OwnEntry"), "The entry"), **_problems(401, 404)},
            }
        },
        "/v1/directory/checkpoint": {
            "get": {
                "operationId": "latestCheckpoint",
                "summary": "The hub's latest signed tree head of its audit log (directory changes included)",
                "description": "With tree_size, the head of exactly that many entries; with cosigned_by, "
                "the largest head that witness cosigned (a client checks the latest extends it). Each "
                "with the witnesses' cosignatures of it.",
                "parameters": [
                    _query("tree_size", "the head of exactly this many entries", _SIZE),
                    _query("cosigned_by", "the largest head this witness cosigned", {"type": "string"}),
                ],
                "responses": {
                    "200": _json(_ref("LatestCheckpoint"), "The checkpoint"),
                    **_problems(400, 404),
                },
            }
        },
        "/v1/directory/checkpoint/cosignatures": {
            "post": {
                "operationId": "publishCosignature",
                "summary": "A witness's cosignature of a checkpoint it checked",
                "description": "A compact JWS, typ hub-checkpoint-cosignature+jwt, by one of the caller's "
                "current signing keys over {iss, aud, iat, tree_size, root_hash} of a checkpoint the hub "
                "signed, at most 600 s old (hub keys check-log --cosign-as). Served beside the checkpoint.",
                "security": BEARER,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("CosignatureRequest")}}},
                "responses": {
                    "201": _json(_ref("CosignatureAccepted"), "Kept"),
                    **_problems(400, 401, 404, 413, 415, 422),
                },
            }
        },
        "/v1/directory/consistency": {
            "get": {
                "operationId": "consistencyProof",
                "summary": "RFC 9162 consistency proof between two checkpointed tree sizes",
                "parameters": [
                    {**_query("first", "the earlier size", _SIZE), "required": True},
                    {**_query("second", "the later size", _SIZE), "required": True},
                ],
                "responses": {"200": _json(_ref("ConsistencyProof"), "The proof"), **_problems(400, 404)},
            }
        },
        "/.well-known/jwks.json": {
            "get": {
                "operationId": "hubJwks",
                "summary": "The hub's own public signing keys",
                "responses": {"200": _json(_ref("Jwks"), "JWK Set"), **_problems()},
            }
        },
    }


def _stats_paths() -> dict[str, Any]:
    """The transparency figures, as data and as a report."""
    return {
        "/v1/stats": {
            "get": {
                "operationId": "stats",
                "summary": "Transparency figures for a period",
                "security": BEARER,
                "parameters": [
                    *PERIOD,
                    _query("format", "json or csv", {"type": "string", "enum": ["json", "csv"]}),
                ],
                "responses": {
                    "200": {
                        "description": "Figures",
                        "content": {
                            JSON: {"schema": _ref("Stats")},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_problems(400, 401),
                },
            }
        },
        "/v1/stats/report.html": {
            "get": {
                "operationId": "statsReport",
                "summary": "Transparency figures as a self-contained HTML page",
                "security": BEARER,
                "parameters": PERIOD,
                "responses": {
                    "200": {
                        "description": "Report",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    },
                    **_problems(400, 401),
                },
            }
        },
    }


def _schema_paths() -> dict[str, Any]:
    """The message templates (JSON Schema 2020-12)."""
    return {
        "/v1/schemas": {
            "get": {
                "operationId": "listSchemas",
                "summary": "The message templates",
                "responses": {"200": _json(_ref("SchemaList"), "Templates"), **_problems()},
            }
        },
        "/v1/schemas/{name}/{version}": {
            "get": {
                "operationId": "showSchema",
                "summary": "One template's JSON Schema (2020-12)",
                "parameters": [_path("name", "message type"), _path("version", "template version")],
                "responses": {
                    "200": _json({"type": "object"}, "The JSON Schema", "application/schema+json"),
                    **_problems(404),
                },
            }
        },
    }


def _operations_paths() -> dict[str, Any]:
    """What an operator's tools read: liveness, readiness, metrics, and this document."""
    return {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "The process answers",
                "responses": {"200": _json(_ref("Health"), "Alive")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "The database answers and its schema is current",
                "responses": {
                    "200": _json(_ref("Ready"), "Ready"),
                    "503": _json(_ref("Ready"), "Not ready"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "Prometheus text format 0.0.4",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
            }
        },
    }
