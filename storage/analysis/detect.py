"""What a file is, told from its first bytes rather than its name.

The name is only the visitor's claim: a file whose content is another family than its
extension says (JSON named .csv, an image named .xlsx) is refused as mislabelled. CSV and
TSV are one family, as are JSON and JSON Lines: people mix those names up all the time.
"""

from __future__ import annotations

import codecs
import csv
import enum
import json
from dataclasses import dataclass
from pathlib import PurePosixPath

from storage.analysis import errors

#: Bytes read to decide; enough for a header and dozens of rows.
HEAD_BYTES = 64 * 1024
#: Delimiters tried; the one giving the most fields wins, ties going to the earlier.
DELIMITERS = ("\t", ",", ";", "|")
#: Lines of the head a delimiter is judged on.
SNIFF_LINES = 50
#: Share of those lines that must have the header's number of fields.
SNIFF_AGREEMENT = 0.8


class Kind(enum.Enum):
    CSV = "CSV"
    TSV = "TSV"
    JSON = "JSON"
    JSONL = "JSON Lines"
    XLSX = "XLSX"

    @property
    def family(self) -> str:
        return _FAMILY[self]


_FAMILY = {
    Kind.CSV: "delimited",
    Kind.TSV: "delimited",
    Kind.JSON: "json",
    Kind.JSONL: "json",
    Kind.XLSX: "xlsx",
}
#: File extension -> the family the name claims.
EXTENSIONS = {
    ".csv": "delimited",
    ".tsv": "delimited",
    ".tab": "delimited",
    ".txt": "delimited",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".xlsx": "xlsx",
}
#: How a claim and a content are named in the visitor's message.
CLAIM_NAMES = {"delimited": "CSV or TSV", "json": "JSON", "xlsx": "an Excel (.xlsx) workbook"}
CONTENT_NAMES = {
    "delimited": "delimited text (CSV or TSV)",
    "json": "JSON",
    "xlsx": "an Excel workbook",
}
#: Signatures of files people upload by mistake.
MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Office file (such as an Excel .xls)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file"),
    (b"PK\x05\x06", "an empty ZIP archive"),
)
UTF8_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class Detected:
    kind: Kind
    delimiter: str = ","


def claimed_family(filename: str) -> str | None:
    """The family the file's extension claims; None for an extension we do not take."""
    return EXTENSIONS.get(PurePosixPath(filename.lower()).suffix)


def detect(head: bytes, *, complete: bool) -> Detected:
    """The kind of file that starts with `head` (`complete`: the whole file is in it)."""
    if not head:
        raise errors.AnalysisError(errors.EMPTY)
    if head.startswith(b"PK\x03\x04"):
        return Detected(Kind.XLSX)  # a ZIP: the workbook reader checks it holds a workbook
    for signature, what in MAGIC:
        if head.startswith(signature):
            raise errors.unsupported(what)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise errors.not_utf8("it is UTF-16")
    head = head.removeprefix(UTF8_BOM)
    if b"\x00" in head:
        raise errors.unsupported("a binary file")
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise errors.not_utf8(f"at byte {exc.start + 1}") from None
    stripped = text.lstrip()
    if not stripped:
        raise errors.AnalysisError(errors.BLANK)
    if stripped[0] in "[{":
        return Detected(Kind.JSONL if _is_json_lines(stripped) else Kind.JSON)
    if stripped[0] == "<":
        raise errors.unsupported("an HTML or XML document")
    delimiter = sniff_delimiter(text, complete=complete)
    return Detected(Kind.TSV if delimiter == "\t" else Kind.CSV, delimiter)


def check_claim(filename: str, detected: Detected) -> None:
    """Refuse a file whose content is not the family its name claims."""
    claimed = claimed_family(filename)
    if claimed is not None and claimed != detected.kind.family:
        raise errors.mislabelled(CLAIM_NAMES[claimed], CONTENT_NAMES[detected.kind.family])


def _is_json_lines(text: str) -> bool:
    """A first line that is a whole JSON value, followed by another line of JSON."""
    first, _, rest = text.partition("\n")
    try:
        json.loads(first)
    except (ValueError, RecursionError):  # too deep: the reader says so
        return False
    following = rest.lstrip()
    return bool(following) and following[0] in "[{"


def sniff_delimiter(text: str, *, complete: bool) -> str:
    """The delimiter that splits the head's lines into as many fields as the header has."""
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines.pop()  # cut short by the head's end
    lines = [line for line in lines[:SNIFF_LINES] if line.strip()]
    best, best_width = ",", 1
    for delimiter in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        agreeing = sum(width == widths[0] for width in widths) / len(widths)
        if agreeing >= SNIFF_AGREEMENT and widths[0] > best_width:
            best, best_width = delimiter, widths[0]
    return best
