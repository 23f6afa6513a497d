"""hub.core.json_position: where a JSON Pointer points in the text a person wrote."""

from __future__ import annotations

import json

import pytest

from hub.core.json_position import TextPosition, position_of

TEXT = '{\n  "a": {"b": [10, {"c~/d": "x"}]},\n  "e": 1,\n  "e": 2\n}'


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("", TextPosition(1, 1, True)),
        ("/a", TextPosition(2, 8, True)),
        ("/a/b", TextPosition(2, 14, True)),
        ("/a/b/0", TextPosition(2, 15, True)),
        ("/a/b/1/c~0~1d", TextPosition(2, 28, True)),
        ("/e", TextPosition(4, 8, True)),  # the last of equal keys, as json.loads keeps
        ("/a/missing", TextPosition(2, 8, False)),
        ("/a/b/7", TextPosition(2, 14, False)),
        ("/a/b/01", TextPosition(2, 14, False)),
        ("/e/deeper", TextPosition(4, 8, False)),
    ],
)
def test_position_of_a_pointer(pointer: str, expected: TextPosition) -> None:
    assert position_of(TEXT, pointer) == expected


def test_positions_agree_with_the_decoder() -> None:
    document = {"x": [1, {"y": "z"}], "w": None}
    text = json.dumps(document, indent=4)
    where = position_of(text, "/x/1/y")
    assert where is not None
    line = text.splitlines()[where.line - 1]
    assert json.JSONDecoder().raw_decode(line, where.column - 1)[0] == "z"


def test_not_json_or_not_a_pointer_gives_no_position() -> None:
    assert position_of("{not json", "/a") is None
    assert position_of(TEXT, "a") is None
