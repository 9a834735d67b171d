"""What the database can hold, and how stored JSON is read back without trusting its shape.

PostgreSQL text and JSON cannot hold NUL, and no lone UTF-16 surrogate encodes to UTF-8;
SQLite takes both, so the check is ours rather than the database's. Rows stored before
input was bounded may nest deeper than Python's parser and serialisers recurse:
`decode_json` reads them with their nesting bounded, so no page or export fails on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from piccolo.table import Table

UNSTORABLE_MESSAGE = (
    "The text contains a character that cannot be stored (a NUL byte or a broken "
    "character encoding). Remove it and send again."
)
#: Nesting deeper than this (levels of objects and arrays) is not decoded: our own JSON
#: columns nest three deep at most, and json.loads recurses once per level.
MAX_STORED_DEPTH = 32
#: What stands in for a stored value nested too deeply to read.
TOO_DEEP = {"not_shown": f"This value nests more than {MAX_STORED_DEPTH} levels deep."}

T = TypeVar("T", bound=Table)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def is_storable(text: str) -> bool:
    """True when PostgreSQL can hold `text`: no NUL, and it encodes to UTF-8."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def all_storable(value: Any) -> bool:
    """True when every string in `value` (keys too, at any depth) is storable.

    Walks with a stack rather than recursion: a hostile body may nest as deep as it likes.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not is_storable(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def json_depth(text: str) -> int:
    """How deep `text`'s objects and arrays nest, counted without parsing it."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def decode_json(stored: Any) -> Any:
    """A JSON column's value as the driver returns it (text), decoded; `TOO_DEEP` in place
    of one nested past `MAX_STORED_DEPTH`."""
    if not isinstance(stored, str | bytes):
        return stored
    text = stored.decode() if isinstance(stored, bytes) else stored
    if json_depth(text) > MAX_STORED_DEPTH:
        return dict(TOO_DEEP)
    return json.loads(text)


def decode_rows(table: type[Table], rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` of a select on `table` made without `load_json`, its JSON columns decoded."""
    names = [column._meta.name for column in table._meta.json_columns]
    return [row | {name: decode_json(row[name]) for name in names if name in row} for row in rows]


def decode_object(row: T | None) -> T | None:
    """A table object fetched without `load_json`, its JSON columns decoded in place."""
    if row is not None:
        for column in row._meta.json_columns:
            name = column._meta.name
            setattr(row, name, decode_json(getattr(row, name)))
    return row
