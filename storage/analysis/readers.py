"""Row readers, one per format, each reading its stream once with bounded memory.

Delimited text and JSON Lines go through `csv` and `readline` with a cap on a field and a
line; a JSON document is walked value by value (`JSONDecoder.raw_decode` on a sliding
buffer), so a 200 MB array is never held whole; a workbook is spilled to a temporary file
because a ZIP must be read from its end, then read by openpyxl in read-only mode.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO, NoReturn, TextIO

from storage.analysis import errors

#: Largest JSON record (or JSON Lines line), in characters.
MAX_RECORD_CHARS = 1_000_000
#: How near the buffer's end a JSON error may be an artefact of the cut, in characters.
CUT_MARGIN_CHARS = 16
#: Characters read at a time from a JSON document.
JSON_CHUNK_CHARS = 256 * 1024
#: A workbook's unpacked size at most, and its shared-string table (kept in memory).
MAX_XLSX_UNPACKED_BYTES = 2_000_000_000
MAX_XLSX_SHARED_STRINGS_BYTES = 40_000_000

# Visitors' workbooks often lack styles or carry extensions openpyxl skips and warns about.
# Set once here (`catch_warnings` is process-wide, so unsafe in a worker thread).
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def text_stream(stream: BinaryIO) -> TextIO:
    """UTF-8 text (a byte-order mark dropped), with newlines left to the reader."""
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def delimited_rows(text: TextIO, delimiter: str) -> Iterator[list[str]]:
    reader = csv.reader(text, delimiter=delimiter)
    try:
        yield from reader
    except UnicodeDecodeError:
        raise errors.not_utf8(f"on line {reader.line_num + 1}") from None
    except csv.Error as exc:
        raise errors.bad_csv(reader.line_num, str(exc)) from None


def json_lines_records(text: TextIO) -> Iterator[Any]:
    number = 0
    while True:
        try:
            line = text.readline(MAX_RECORD_CHARS + 1)
        except UnicodeDecodeError:
            raise errors.not_utf8(f"on line {number + 1}") from None
        if not line:
            return
        number += 1
        if len(line) > MAX_RECORD_CHARS:
            raise errors.record_too_large(MAX_RECORD_CHARS)
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise errors.bad_json(number, exc.colno, exc.msg.lower()) from None


class JsonDocument:
    """Walks one JSON document, yielding the records of its top-level array.

    A top-level object yields the items of its first array-valued member (the usual
    `{"data": [...]}` export), or, having none, itself as the one record.
    """

    def __init__(self, text: TextIO) -> None:
        self._text = text
        self._buffer = ""
        self._pos = 0
        self._line_base = 1
        self._eof = False

    def records(self) -> Iterator[Any]:
        first = self._peek()
        if first == "[":
            yield from self._array()
        elif first == "{":
            yield from self._object()
        else:
            yield self._value()
        if self._peek():
            self._fail("unexpected text after the end of the document")

    def _array(self) -> Iterator[Any]:
        self._pos += 1  # "["
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            yield self._value()
            separator = self._peek()
            self._pos += 1
            if separator == "]":
                return
            if separator != ",":
                self._fail("expected ',' or ']'")

    def _object(self) -> Iterator[Any]:
        self._pos += 1  # "{"
        fields: dict[str, Any] = {}
        found_records = False
        if self._peek() == "}":
            self._pos += 1
        else:
            while True:
                key = self._value()
                if not isinstance(key, str):
                    self._fail("expected a property name in double quotes")
                if self._peek() != ":":
                    self._fail("expected ':'")
                self._pos += 1
                if self._peek() == "[" and not found_records:
                    found_records = True
                    yield from self._array()
                else:
                    fields[key] = self._value()
                separator = self._peek()
                self._pos += 1
                if separator == "}":
                    break
                if separator != ",":
                    self._fail("expected ',' or '}'")
        if not found_records:
            yield fields

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                # Failing near the buffer's end (a number, literal or escape cut short) or in
                # a string running past it may only mean the value goes on in the next chunk;
                # failing earlier is a real error, and so is the same failure once refilled.
                cut = exc.pos >= len(self._buffer) - CUT_MARGIN_CHARS or exc.msg.startswith(
                    "Unterminated"
                )
                if cut and self._fill():
                    continue
                self._fail(exc.msg.lower(), exc.pos)
            if end == len(self._buffer) and self._fill():
                continue  # a number or literal may have been cut at the buffer's end
            self._pos = end
            return value

    def _peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            self._pos = _WHITESPACE.match(self._buffer, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buffer) or not self._fill():
                return self._buffer[self._pos : self._pos + 1]

    def _fill(self) -> bool:
        """Append the next chunk; False at the end of the text."""
        if self._eof:
            return False
        if len(self._buffer) - self._pos > MAX_RECORD_CHARS:
            raise errors.record_too_large(MAX_RECORD_CHARS)
        try:
            chunk = self._text.read(JSON_CHUNK_CHARS)
        except UnicodeDecodeError:
            raise errors.not_utf8(f"after line {self._line_base}") from None
        if not chunk:
            self._eof = True
            return False
        if self._pos > len(self._buffer) // 2:
            dropped = self._buffer[: self._pos]
            self._line_base += dropped.count("\n")
            self._buffer, self._pos = self._buffer[self._pos :], 0
        self._buffer += chunk
        return True

    def _fail(self, problem: str, pos: int | None = None) -> NoReturn:
        pos = self._pos if pos is None else pos
        before = self._buffer[:pos]
        line = self._line_base + before.count("\n")
        column = pos - (before.rfind("\n") + 1) + 1
        raise errors.bad_json(line, column, problem)


@contextlib.contextmanager
def workbook_rows(stream: BinaryIO) -> Iterator[tuple[str, Iterator[tuple[Any, ...]]]]:
    """(sheet name, its rows as values) of the workbook's first worksheet."""
    with tempfile.TemporaryFile() as spill:
        shutil.copyfileobj(stream, spill, 1024 * 1024)
        spill.seek(0)
        _check_archive(spill)
        spill.seek(0)
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(spill, read_only=True, data_only=True)
        except Exception:
            raise errors.AnalysisError(errors.CORRUPT_XLSX) from None
        try:
            if not workbook.worksheets:
                raise errors.AnalysisError(errors.NO_SHEET)
            sheet = workbook.worksheets[0]
            yield sheet.title, _guarded(sheet.iter_rows(values_only=True))
        finally:
            workbook.close()


def _guarded(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Rows, with any failure of the damaged archive below them told as such."""
    try:
        yield from rows
    except errors.AnalysisError:
        raise
    except Exception:
        raise errors.AnalysisError(errors.CORRUPT_XLSX) from None


def _check_archive(spill: BinaryIO) -> None:
    """A ZIP that holds a workbook, small enough once unpacked to read safely."""
    try:
        with zipfile.ZipFile(spill) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError):
        raise errors.AnalysisError(errors.CORRUPT_XLSX) from None
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names:
        if "word/document.xml" in names:
            raise errors.unsupported("a Word document")
        if "ppt/presentation.xml" in names:
            raise errors.unsupported("a PowerPoint presentation")
        if "content.xml" in names:
            raise errors.unsupported("an OpenDocument file")
        raise errors.unsupported("a ZIP archive")
    if sum(entry.file_size for entry in entries) > MAX_XLSX_UNPACKED_BYTES:
        raise errors.AnalysisError(errors.XLSX_TOO_COMPLEX)
    shared = [entry for entry in entries if entry.filename == "xl/sharedStrings.xml"]
    if shared and shared[0].file_size > MAX_XLSX_SHARED_STRINGS_BYTES:
        raise errors.AnalysisError(errors.XLSX_TOO_COMPLEX)
