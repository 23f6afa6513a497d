"""A received or sent message's body as people read it: each listed answer in words (issue 17).

A body holds the template's enum values as they were signed ("intimate-image", "hotline-attestation");
the page shows the words the form offers for them ("Intimate image", "Hotline attestation"), found by the
same form the template makes (`schema_form.FormBuilder`, its repeated groups as many as the body has),
so a value is labelled only where the template lists it. What is not an answer from a list (a
reference, a URL, a free text) is shown exactly as signed; the evidence bundle keeps the signed bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hub.console.schema_form import FormBuilder, Widget
from hub.core.templates import TemplateCatalog, UnknownTemplateError
from hub.core.wording import DEFAULT_LANGUAGE

LISTED = (Widget.SELECT, Widget.CHOICES)


def _counts(value: Any, pointer: str) -> Iterator[tuple[str, int]]:
    """How many entries each list of objects in the body has: the form's repeated groups."""
    if isinstance(value, dict):
        for name, inner in value.items():
            yield from _counts(inner, f"{pointer}/{name}")
    elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
        yield pointer, len(value)
        for index, inner in enumerate(value):
            yield from _counts(inner, f"{pointer}/{index}")


def labelled_body(
    catalog: TemplateCatalog, message_type: str, version: str, body: Any, language: str = DEFAULT_LANGUAGE
) -> Any:
    """The body with each value the template lists replaced by the words the form shows for it."""
    if not isinstance(body, dict):
        return body
    try:
        form = FormBuilder(catalog, dict(_counts(body, "/body")), language).template(
            message_type, version, []
        )
    except (UnknownTemplateError, KeyError, ValueError):
        return body
    words = {f.pointer: dict(f.options) for f in form.fields() if f.widget in LISTED and f.options}
    return _relabel(body, "/body", words)


def _relabel(value: Any, pointer: str, words: dict[str, dict[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _relabel(v, f"{pointer}/{k}", words) for k, v in value.items()}
    listed = words.get(pointer)
    if isinstance(value, list):
        if listed is not None:
            return [listed.get(v, v) if isinstance(v, str) else v for v in value]
        return [_relabel(v, f"{pointer}/{i}", words) for i, v in enumerate(value)]
    if listed is not None and isinstance(value, str):
        return listed.get(value, value)
    return value
