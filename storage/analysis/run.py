"""`analyse`: one pass over an uploaded file, from its first bytes to the results.

The stream is read once: its head decides the kind (`detect`), then goes back in front
of the rest for the reader. Every byte is counted, so a file over the limit stops the
read at the limit whatever storage said its size was.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from storage.analysis import errors, readers
from storage.analysis.detect import HEAD_BYTES, Kind, check_claim, detect
from storage.analysis.profile import TableProfile, header_names

#: Buffer between storage and the readers, in bytes.
BUFFER_BYTES = 1024 * 1024


def analyse(source: BinaryIO, *, filename: str, max_bytes: int) -> dict[str, Any]:
    """The results for the file in `source`, or `AnalysisError` with the visitor's message."""
    counted = _CountedSource(source, max_bytes)
    head = counted.head(HEAD_BYTES)
    detected = detect(head, complete=len(head) < HEAD_BYTES)
    check_claim(filename, detected)
    stream = io.BufferedReader(counted, BUFFER_BYTES)
    if detected.kind is Kind.XLSX:
        with readers.workbook_rows(stream) as (sheet, rows):  # type: ignore[arg-type]
            profile = _profile_table(rows, typed=True)
            results = profile.results(detected.kind.value, counted.size)
            results["sheet"] = sheet
            return results
    text = readers.text_stream(stream)  # type: ignore[arg-type]
    if detected.kind is Kind.JSON:
        profile = _profile_records(readers.JsonDocument(text).records())
    elif detected.kind is Kind.JSONL:
        profile = _profile_records(readers.json_lines_records(text))
    else:
        profile = _profile_table(readers.delimited_rows(text, detected.delimiter), typed=False)
    return profile.results(detected.kind.value, counted.size)


def _profile_table(rows: Iterator[Any], *, typed: bool) -> TableProfile:
    """Rows whose first non-blank one names the columns."""
    for header in rows:
        if any(cell is not None and str(cell).strip() for cell in header):
            profile = TableProfile(header_names(_trim(header)), typed=typed)
            break
    else:
        raise errors.AnalysisError(errors.EMPTY)
    add = profile.add_row
    for row in rows:
        add(row)
    return profile


def _profile_records(records: Iterator[Any]) -> TableProfile:
    profile = TableProfile(typed=True)
    add = profile.add_record
    for record in records:
        if isinstance(record, dict):
            add(record)
        elif isinstance(record, list):
            add({f"column_{index}": value for index, value in enumerate(record, start=1)})
        else:
            add({"value": record})
    return profile


def _trim(header: Any) -> list[Any]:
    """A header without the empty cells a spreadsheet leaves after the last name."""
    cells = list(header)
    while cells and (cells[-1] is None or not str(cells[-1]).strip()):
        cells.pop()
    return cells


class _CountedSource(io.RawIOBase):
    """The storage stream, counted against the limit, with its head read ahead and replayed."""

    def __init__(self, source: BinaryIO, max_bytes: int) -> None:
        self._source = source
        self._max_bytes = max_bytes
        self._replay = memoryview(b"")
        self.size = 0

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
        data = self._source.read(length)
        self.size += len(data)
        if self.size > self._max_bytes:
            raise errors.too_large(self._max_bytes)
        return data
