"""Row readers, one per format, each reading its stream once with bounded memory.

Delimited text is split into lines from raw bytes read a chunk at a time, so a line over
`MAX_LINE_BYTES` is refused before it is ever built and `csv` only sees bounded lines; JSON
Lines go through `readline` with a cap on a line; a JSON document is walked value by value
(`JSONDecoder.raw_decode` on a sliding buffer), so a 200 MB array is never held whole; a
workbook is spilled to a temporary file because a ZIP must be read from its end, its sizes
checked against caps, then read by openpyxl in read-only mode.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import re
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO, NoReturn, TextIO

from storage.analysis import _xlsx_trees, errors
from storage.analysis.profile import MAX_COLUMNS

#: Largest JSON record (or JSON Lines line), in characters.
MAX_RECORD_CHARS = 1_000_000
#: Longest line of delimited text, its line break included, in bytes.
MAX_LINE_BYTES = 1_000_000
#: Largest delimited record, which quoted line breaks can spread over lines, in bytes.
MAX_RECORD_BYTES = 1_000_000
#: Bytes of delimited text read at a time.
LINE_CHUNK_BYTES = 1024 * 1024
#: How near the buffer's end a JSON error may be an artefact of the cut, in characters.
CUT_MARGIN_CHARS = 16
#: Characters read at a time from a JSON document.
JSON_CHUNK_CHARS = 256 * 1024
#: A workbook's unpacked size at most (its sheet is read at a few MB/s).
MAX_XLSX_UNPACKED_BYTES = 1_000_000_000
#: The shared-string table at most, unpacked: openpyxl holds every string (15 MB of short
#: strings take about 55 MB).
MAX_XLSX_SHARED_STRINGS_BYTES = 15_000_000
#: Any other part read whole into memory (styles, workbook) at most, unpacked: openpyxl
#: builds its whole XML tree, several times the part's size.
MAX_XLSX_PART_BYTES = 3_000_000
#: Times its packed size a part may unpack to: spreadsheets stay well under 100, bombs
#: reach thousands. Parts packed below the floor are judged as if packed to the floor.
MAX_XLSX_EXPANSION = 100
XLSX_EXPANSION_FLOOR = 64 * 1024
#: A central directory at most: a real workbook lists tens of parts, 100 bytes or so each.
MAX_XLSX_DIRECTORY_BYTES = 1_000_000
#: Rows and columns Excel allows on a sheet; a sheet past them is no workbook Excel wrote.
MAX_XLSX_ROWS = 1_048_576

# Visitors' workbooks often lack styles or carry extensions openpyxl skips and warns about.
# Set once here (`catch_warnings` is process-wide, so unsafe in a worker thread).
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def text_stream(stream: BinaryIO) -> TextIO:
    """UTF-8 text (a byte-order mark dropped), with newlines left to the reader."""
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def delimited_rows(stream: BinaryIO, delimiter: str) -> Iterator[list[str]]:
    """Rows of delimited text; a record spanning lines (a quoted line break) is capped too."""
    lines = _Lines(stream)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for row in reader:
            lines.record_bytes = 0
            yield row
    except csv.Error as exc:
        if str(exc).startswith("field larger than field limit"):
            raise errors.value_too_long(reader.line_num, csv.field_size_limit()) from None
        raise errors.bad_csv(reader.line_num, str(exc)) from None


class _Lines:
    """UTF-8 lines, their line breaks kept, split from the raw bytes a chunk at a time.

    Splitting the bytes ourselves (on CR, LF or CRLF, as `newline=""` does) keeps what is
    held to a chunk plus one unfinished line of at most `MAX_LINE_BYTES`: `csv` over a text
    stream builds a whole line, however long, before anything can refuse it.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.number = 0  # lines handed out
        self.record_bytes = 0  # bytes handed out since the reader's last whole record

    def __iter__(self) -> Iterator[str]:
        pending, first = b"", True
        while True:
            chunk = self._stream.read(LINE_CHUNK_BYTES)
            if first:
                chunk, first = chunk.removeprefix(codecs.BOM_UTF8), False
            data = pending + chunk
            if not data:
                return
            if chunk:  # a CR at the very end may be the first half of a CRLF: keep it back
                end = max(data.rfind(b"\n"), data.rfind(b"\r", 0, len(data) - 1)) + 1
                block, pending = data[:end], data[end:]
            else:
                block, pending = data, b""
            lines = block.splitlines(keepends=True)
            if len(pending) > MAX_LINE_BYTES or max(map(len, lines), default=0) > MAX_LINE_BYTES:
                too_long = next(
                    (i for i, line in enumerate(lines) if len(line) > MAX_LINE_BYTES), len(lines)
                )
                raise errors.line_too_long(self.number + too_long + 1, MAX_LINE_BYTES)
            for line in lines:
                self.number += 1
                self.record_bytes += len(line)
                if self.record_bytes > MAX_RECORD_BYTES:
                    raise errors.record_too_large(MAX_RECORD_BYTES)
                try:
                    yield line.decode()
                except UnicodeDecodeError:
                    raise errors.not_utf8(f"on line {self.number:,}") from None


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
        self._dropped_chars = 0
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
        fields_chars = 0
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
                    # The members beside the records are one record: bound it like one.
                    start = self._offset()
                    fields[key] = self._value()
                    fields_chars += self._offset() - start
                    if fields_chars > MAX_RECORD_CHARS:
                        raise errors.record_too_large(MAX_RECORD_CHARS)
                    if len(fields) > MAX_COLUMNS:
                        raise errors.too_many_columns(MAX_COLUMNS)
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

    def _offset(self) -> int:
        """Characters of the document before the current position."""
        return self._dropped_chars + self._pos

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
            self._dropped_chars += len(dropped)
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
def workbook_rows(stream: BinaryIO) -> Iterator[tuple[str, _SheetRows]]:
    """(sheet name, its rows as values) of the workbook's first worksheet."""
    with tempfile.TemporaryFile() as spill:
        shutil.copyfileobj(stream, spill, 1024 * 1024)
        spill.seek(0)
        _check_archive(spill)
        spill.seek(0)
        import openpyxl

        _xlsx_trees.prune()
        try:
            workbook = openpyxl.load_workbook(spill, read_only=True, data_only=True)
        except Exception:
            raise errors.AnalysisError(errors.CORRUPT_XLSX) from None
        try:
            if not workbook.worksheets:
                raise errors.AnalysisError(errors.NO_SHEET)
            sheet = workbook.worksheets[0]
            # The dimension a sheet declares pads every row to its width: check it first.
            if (sheet.max_column or 0) > MAX_COLUMNS:
                raise errors.xlsx_sheet_too_wide(MAX_COLUMNS)
            if (sheet.max_row or 0) > MAX_XLSX_ROWS:
                raise errors.xlsx_too_many_rows(MAX_XLSX_ROWS)
            yield sheet.title, _SheetRows(sheet.iter_rows(values_only=True))
        finally:
            workbook.close()


class _SheetRows:
    """The sheet's rows, counting the characters of their text (the profile's measure of
    what it holds), and telling any failure of the damaged archive below them as such.

    openpyxl keeps an emptied element for every row it has read (about 100 bytes), so the
    rows are capped at Excel's own limit to keep that bounded too.
    """

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._chars = 0

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        try:
            for count, row in enumerate(self._rows, start=1):
                if count > MAX_XLSX_ROWS:
                    raise errors.xlsx_too_many_rows(MAX_XLSX_ROWS)
                self._chars += sum(len(value) for value in row if type(value) is str)
                yield row
        except errors.AnalysisError:
            raise
        except Exception:
            raise errors.AnalysisError(errors.CORRUPT_XLSX) from None

    def consumed(self) -> int:
        return self._chars


def _check_archive(spill: BinaryIO) -> None:
    """A ZIP that holds a workbook, small enough once unpacked to read safely.

    Every figure is the archive's own claim, checked before any part is unpacked; `zipfile`
    holds each part to its claimed size, so a part that lies fails as damaged.
    """
    if _directory_bytes(spill) > MAX_XLSX_DIRECTORY_BYTES:
        raise errors.AnalysisError(errors.XLSX_TOO_COMPLEX)
    spill.seek(0)
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
    for entry in entries:
        if entry.file_size > MAX_XLSX_EXPANSION * max(entry.compress_size, XLSX_EXPANSION_FLOOR):
            raise errors.AnalysisError(errors.XLSX_BOMB)
        if entry.filename.startswith("xl/worksheets/"):
            continue  # streamed
        if entry.file_size > (
            MAX_XLSX_SHARED_STRINGS_BYTES
            if entry.filename == "xl/sharedStrings.xml"
            else MAX_XLSX_PART_BYTES
        ):
            raise errors.AnalysisError(errors.XLSX_TOO_COMPLEX)


def _directory_bytes(spill: BinaryIO) -> int:
    """The size of the ZIP's central directory, as its end record (or ZIP64's) claims it.

    `zipfile` reads the whole directory and makes an object per entry; millions of empty
    entries fit in an upload, so the size is checked before `zipfile` sees the file.
    """
    size = spill.seek(0, io.SEEK_END)
    tail_bytes = min(size, _EOCD.size + 0xFFFF)  # the end record, then a comment of 64 KB at most
    spill.seek(size - tail_bytes)
    tail = spill.read(tail_bytes)
    at = tail.rfind(_EOCD_SIGNATURE)
    if at < 0 or len(tail) - at < _EOCD.size:
        raise errors.AnalysisError(errors.CORRUPT_XLSX)
    directory_bytes = _EOCD.unpack_from(tail, at)[0]
    locator = at - _ZIP64_LOCATOR.size
    if locator >= 0 and tail.startswith(_ZIP64_LOCATOR_SIGNATURE, locator):
        spill.seek(_ZIP64_LOCATOR.unpack_from(tail, locator)[0])
        record = spill.read(_ZIP64_EOCD.size)
        if len(record) < _ZIP64_EOCD.size or not record.startswith(_ZIP64_EOCD_SIGNATURE):
            raise errors.AnalysisError(errors.CORRUPT_XLSX)
        directory_bytes = _ZIP64_EOCD.unpack_from(record)[0]
    return directory_bytes


# ZIP records (APPNOTE 4.3.14-16), each unpacking to the one field read from it.
_EOCD_SIGNATURE = b"PK\x05\x06"
_EOCD = struct.Struct("<12xL6x")  # directory size
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_LOCATOR = struct.Struct("<8xQ4x")  # offset of the ZIP64 end record
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
_ZIP64_EOCD = struct.Struct("<40xQ8x")  # directory size
