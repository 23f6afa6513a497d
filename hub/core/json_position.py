"""Where a JSON Pointer (RFC 6901) points in a JSON text: its line and column, for telling a person where
in their file a fault is.

Pure: it reads the text the user wrote (already known to parse) with the standard decoder's own scanner,
so positions agree with `json.loads`, including which of two equal keys counts (the last).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


@dataclass(frozen=True, slots=True)
class TextPosition:
    line: int  # from 1
    column: int  # from 1, in characters
    exact: bool  # False: the pointer names nothing in the text; this is its deepest enclosing value


def position_of(text: str, pointer: str) -> TextPosition | None:
    """The position of the value `pointer` names in `text`, or of the deepest value enclosing it when the
    text has no such value (a missing property); None when `text` is not JSON or the pointer is malformed."""
    if pointer and not pointer.startswith("/"):
        return None
    steps = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]] if pointer else []
    try:
        offset = _skip(text, 0)
        exact = True
        for step in steps:
            inner = _child(text, offset, step)
            if inner is None:
                exact = False
                break
            offset = inner
    except (json.JSONDecodeError, IndexError, ValueError):
        return None
    line = text.count("\n", 0, offset) + 1
    return TextPosition(line, offset - (text.rfind("\n", 0, offset) + 1) + 1, exact)


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _SPACE:
        index += 1
    return index


def _child(text: str, offset: int, step: str) -> int | None:
    """The offset of the member or item `step` of the value starting at `offset`, or None."""
    opening = text[offset]
    if opening == "{":
        return _member(text, offset, step)
    if opening == "[" and step.isdigit() and (step == "0" or not step.startswith("0")):
        return _item(text, offset, int(step))
    return None


def _member(text: str, offset: int, step: str) -> int | None:
    found = None
    index = _skip(text, offset + 1)
    while text[index] != "}":
        key, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        index = _skip(text, index + 1)  # the colon
        if key == step:
            found = index  # the last of equal keys is the one json.loads keeps
        _, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if text[index] == ",":
            index = _skip(text, index + 1)
    return found


def _item(text: str, offset: int, wanted: int) -> int | None:
    index = _skip(text, offset + 1)
    position = 0
    while text[index] != "]":
        if position == wanted:
            return index
        _, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if text[index] == ",":
            index = _skip(text, index + 1)
        position += 1
    return None
