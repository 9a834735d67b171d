"""`analyse`: one pass over an uploaded file, from its first bytes to the results.

The stream is read once: its head decides the kind (`detect`), then goes back in front
of the rest for the reader. Every byte is counted, so a file over the limit stops the
read at the limit whatever storage said its size was.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from storage.analysis import errors, readers
from storage.analysis.deadline import Deadline
from storage.analysis.detect import HEAD_BYTES, Kind, check_claim, detect
from storage.analysis.profile import TableProfile, header_names

#: Buffer between storage and the readers, in bytes.
BUFFER_BYTES = 1024 * 1024
#: Rows (or records) profiled between two looks at the deadline and the rows held.
CHECK_ROWS = 64
#: Bytes of rows held for profiling at most (a batch is thousands of rows, a row up to a MB).
HELD_BYTES = 16_000_000


def analyse(
    source: BinaryIO, *, filename: str, max_bytes: int, time_limit_s: float | None = None
) -> dict[str, Any]:
    """The results for the file in `source`, or `AnalysisError` with the visitor's message.

    `time_limit_s` bounds the whole analysis (None: no bound, for tests and benches).
    """
    deadline = Deadline(time_limit_s)
    counted = _CountedSource(source, max_bytes, deadline)
    head = counted.head(HEAD_BYTES)
    detected = detect(head, complete=len(head) < HEAD_BYTES)
    check_claim(filename, detected)
    stream = io.BufferedReader(counted, BUFFER_BYTES)
    if detected.kind is Kind.XLSX:
        with readers.workbook_rows(stream) as (sheet, rows):  # type: ignore[arg-type]
            profile = _profile_table(rows, deadline, rows.consumed, typed=True)
            results = profile.results(detected.kind.value, counted.size)
            results["sheet"] = sheet
            return results
    if detected.kind in (Kind.JSON, Kind.JSONL):
        text = readers.text_stream(stream)  # type: ignore[arg-type]
        if detected.kind is Kind.JSON:
            records = readers.JsonDocument(text).records()
        else:
            records = readers.json_lines_records(text)
        try:
            profile = _profile_records(records, deadline, counted.consumed)
        except RecursionError:
            # Parsing and hashing recurse per level; a record of `[[[[...` reaches the
            # interpreter's limit long before any size cap, and fails here in bounded memory.
            raise errors.nested_too_deeply() from None
    else:
        rows = readers.delimited_rows(stream, detected.delimiter)  # type: ignore[arg-type]
        profile = _profile_table(rows, deadline, counted.consumed, typed=False)
    return profile.results(detected.kind.value, counted.size)


def _profile_table(
    rows: Iterable[Any], deadline: Deadline, consumed: Callable[[], int], *, typed: bool
) -> TableProfile:
    """Rows whose first non-blank one names the columns."""
    rows = iter(rows)  # read on after the header, not from the start again
    for header in rows:
        if any(cell is not None and str(cell).strip() for cell in header):
            profile = TableProfile(header_names(_trim(header)), typed=typed)
            break
    else:
        raise errors.AnalysisError(errors.EMPTY)
    add = profile.add_row
    for row in _paced(rows, profile, deadline, consumed):
        add(row)
    return profile


def _profile_records(
    records: Iterator[Any], deadline: Deadline, consumed: Callable[[], int]
) -> TableProfile:
    profile = TableProfile(typed=True)
    add = profile.add_record
    for record in _paced(records, profile, deadline, consumed):
        if isinstance(record, dict):
            add(record)
        elif isinstance(record, list):
            add({f"column_{index}": value for index, value in enumerate(record, start=1)})
        else:
            add({"value": record})
    return profile


def _paced(
    items: Iterator[Any], profile: TableProfile, deadline: Deadline, consumed: Callable[[], int]
) -> Iterator[Any]:
    """`items`, looking every `CHECK_ROWS` at the deadline and at the size of the rows the
    profile holds: rows of a MB each must not wait for a whole batch to be profiled."""
    flushed = consumed()
    for count, item in enumerate(items, start=1):
        yield item
        if not count % CHECK_ROWS:
            deadline.check()
            if consumed() - flushed > HELD_BYTES:
                profile.flush()
                flushed = consumed()


def _trim(header: Any) -> list[Any]:
    """A header without the empty cells a spreadsheet leaves after the last name."""
    cells = list(header)
    while cells and (cells[-1] is None or not str(cells[-1]).strip()):
        cells.pop()
    return cells


class _CountedSource(io.RawIOBase):
    """The storage stream, counted against the limit, with its head read ahead and replayed."""

    def __init__(self, source: BinaryIO, max_bytes: int, deadline: Deadline) -> None:
        self._source = source
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._replay = memoryview(b"")
        self.size = 0

    def consumed(self) -> int:
        """Bytes read from storage so far (a few MB ahead of the rows handed out)."""
        return self.size

    def readable(self) -> bool:
        return True

    def head(self, length: int) -> bytes:
        chunks: list[bytes] = []
        wanted = length
        while wanted > 0 and (chunk := self._read(wanted)):
            chunks.append(chunk)
            wanted -= len(chunk)
        head = b"".join(chunks)
        self._replay = memoryview(head)
        return head

    def readinto(self, buffer: Any) -> int:
        if self._replay:
            length = min(len(buffer), len(self._replay))
            buffer[:length] = self._replay[:length]
            self._replay = self._replay[length:]
            return length
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read(self, length: int) -> bytes:
        self._deadline.check()
        data = self._source.read(length)
        self.size += len(data)
        if self.size > self._max_bytes:
            raise errors.too_large(self._max_bytes)
        return data
