"""openpyxl's XML reading, made to forget the rows and shared strings it has read.

openpyxl (3.1) walks a sheet and the shared-string table with `iterparse`, emptying each
`<row>` and `<si>` once read but leaving it attached to its parent: about 100 bytes a row
or string that stay until the end, 100 MB for a sheet of a million rows. `prune()` swaps
the `iterparse` those two modules call for one that also detaches the element.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any
from xml.etree import ElementTree

#: Tags of the elements detached once read (rows of a sheet, strings of the table).
PRUNED_TAGS = frozenset(
    f"{{http://schemas.openxmlformats.org/spreadsheetml/2006/main}}{tag}" for tag in ("row", "si")
)


def pruning_iterparse(
    source: IO[bytes], events: Any = None, parser: Any = None
) -> Iterator[tuple[str, ElementTree.Element]]:
    """`iterparse` giving "end" events only (what openpyxl asks for), detaching each row
    and string from its parent once the caller has gone on to the next event."""
    if events not in (None, ("end",)):
        raise ValueError("pruning_iterparse gives 'end' events only")
    parents: list[ElementTree.Element] = []
    for event, element in ElementTree.iterparse(source, ("start", "end"), parser):
        if event == "start":
            parents.append(element)
            continue
        parents.pop()
        yield event, element
        if element.tag in PRUNED_TAGS and parents:
            parents[-1].remove(element)


def prune() -> None:
    """Make openpyxl's sheet and shared-string readers use `pruning_iterparse` (idempotent)."""
    from openpyxl.reader import strings
    from openpyxl.worksheet import _reader

    strings.iterparse = pruning_iterparse
    _reader.iterparse = pruning_iterparse
