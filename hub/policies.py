"""Loading the deadline policies: the packaged jurisdictions, plus an operator's folder.

`HUB_POLICY_DIR` names a folder of extra `<CC>.json` files; a file there replaces the packaged file of
the same jurisdiction, so an operator adds or amends a jurisdiction without touching code. Every file
is validated against `policies/schema.json` when the hub starts; a broken file stops the start with
the file's name and the fault.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

import hub
from hub.core.policy import PolicyBook, PolicyError
from hub.core.retention import RetentionPolicy


def default_policy_root() -> Path:
    installed = Path(hub.__file__).parent / "_policies"
    return installed if installed.is_dir() else Path(hub.__file__).parent.parent / "policies"


def load_retention_policy(path: Path | None = None) -> RetentionPolicy:
    """The retention periods: the operator's file (HUB_RETENTION_FILE), else the packaged one."""
    source = path or default_policy_root() / "retention.json"
    try:
        return RetentionPolicy.from_document(json.loads(source.read_text("utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, AttributeError) as exc:
        raise PolicyError(f"{source.name}: not a usable retention policy ({exc})") from None


def load_policy_book(extra_dir: Path | None = None, root: Path | None = None) -> PolicyBook:
    base = root or default_policy_root()
    schema = json.loads((base / "schema.json").read_text("utf-8"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    files = {path.stem: path for path in sorted((base / "jurisdictions").glob("*.json"))}
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise PolicyError(f"HUB_POLICY_DIR {extra_dir} is not a folder")
        files.update({path.stem: path for path in sorted(extra_dir.glob("*.json"))})
    return PolicyBook.from_documents(_read(path, validator) for path in files.values())


def _read(path: Path, validator: Draft202012Validator) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"{path.name}: not readable JSON ({exc.__class__.__name__})") from None
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/" + "/".join(str(p) for p in errors[0].absolute_path)
        raise PolicyError(f"{path.name}: invalid at {where}: {errors[0].message[:200]}")
    if document.get("jurisdiction") != path.stem:
        raise PolicyError(
            f"{path.name}: names jurisdiction {document.get('jurisdiction')!r}, not {path.stem!r}"
        )
    return dict(document)
