"""Peak memory and time of the upload analysis on hostile files, each in a fresh process.

Generates each file a hostile visitor might upload (one endless line, a million columns,
30,000 repeated column names, deeply nested JSON, an XLSX bomb, files lying about their
type...), analyses each in a child process (the worker's situation: nothing else in
memory) and prints a table: outcome, the child's peak resident memory and seconds. Exits 1
if any peak passes the target or any analysis outlives its time limit.

    just bench-hostile            # or: .venv/bin/python -m bench.hostile --mb 120

The generators and `measure` are shared with tests/abuse, which runs them at small sizes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The issue's bound on a worker's peak memory while analysing, in MB.
TARGET_PEAK_MB = 150
#: The time limit the bench analyses with, in seconds (the product's default).
TIME_LIMIT_S = 120.0
MB = 1_000_000
#: Bytes written at a time by the generators.
WRITE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Measured:
    """What a child process reported: `failed` carries the visitor's message."""

    outcome: str
    message: str
    peak_mb: float
    seconds: float


def measure(path: Path, *, time_limit_s: float = TIME_LIMIT_S, wait_s: float = 600) -> Measured:
    """Analyse `path` in a fresh process; its own peak RSS and wall time as it reports them."""
    command = [sys.executable, "-m", "bench.hostile", "--child", str(path)]
    command += ["--time-limit", str(time_limit_s)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=wait_s
    )
    return Measured(**json.loads(done.stdout))


def child(path: str, time_limit_s: float) -> None:
    """Analyse `path`, printing the outcome, this process's peak RSS and seconds as JSON."""
    from storage.analysis import AnalysisError, analyse

    started = time.perf_counter()
    try:
        with open(path, "rb") as stream:
            results = analyse(
                stream,
                filename=Path(path).name,
                max_bytes=10**12,
                time_limit_s=time_limit_s,
            )
        outcome, message = "completed", results["summary"]
    except AnalysisError as exc:
        outcome, message = "failed", exc.message
    seconds = time.perf_counter() - started
    peak_mb = _peak_rss_bytes() / MB
    print(
        json.dumps({"outcome": outcome, "message": message, "peak_mb": peak_mb, "seconds": seconds})
    )


def _peak_rss_bytes() -> int:
    """This process's peak resident memory since it started.

    Linux's `ru_maxrss` carries over the parent's peak through fork and exec (the
    generators' memory would count against the analysis), so VmHWM, which is the
    process's own, is read first.
    """
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # in kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


# The hostile files. Each writes `path` at about `size` bytes and returns nothing.


def _write_repeated(path: Path, head: bytes, unit: bytes, size: int, tail: bytes = b"") -> None:
    """`head`, then `unit` repeated to about `size` bytes, then `tail`, a MB at a time."""
    block = unit * max(1, WRITE_BYTES // len(unit))
    with path.open("wb") as out:
        out.write(head)
        written = len(head)
        while written < size:
            out.write(block)
            written += len(block)
        out.write(tail)


def one_line_csv(path: Path, size: int) -> None:
    """A header, then one row that is the whole file: no line break for `size` bytes."""
    _write_repeated(path, b"name,email\n", b"x" * 1000, size, b"\n")


def unclosed_quote_csv(path: Path, size: int) -> None:
    """A quote opened on line 2 and never closed: one record of short lines to the end."""
    _write_repeated(path, b'name,email\n"Ann,', b"ann@example.com\n", size)


def million_columns_csv(path: Path, size: int) -> None:
    """A header of a million one-letter columns (about 2 MB on one line), then rows."""
    header = b",".join([b"a"] * 1_000_000) + b"\n"
    _write_repeated(path, header, b"1,2\n", size)


def duplicate_headers_csv(path: Path, size: int) -> None:
    """30,000 columns all named `email` (the de-duplication trap), then rows of 30,000 cells."""
    header = b",".join([b"email"] * 30_000) + b"\n"
    _write_repeated(path, header, b",".join([b"1"] * 30_000) + b"\n", size)


def wide_rows_csv(path: Path, size: int) -> None:
    """A header of 1,000 columns, then rows of 450,000 cells each, just under the line cap."""
    header = b",".join(b"c%d" % n for n in range(1000)) + b"\n"
    _write_repeated(path, header, b",".join([b"1"] * 450_000) + b"\n", size)


def nested_json(path: Path, size: int) -> None:
    """An array nested `size / 2` deep: `[[[[...]]]]`."""
    depth = size // 2
    _write_repeated(path, b"", b"[", depth)
    with path.open("ab") as out:
        for _ in range(0, depth, WRITE_BYTES):
            out.write(b"]" * WRITE_BYTES)


def wide_json_object(path: Path, size: int) -> None:
    """One top-level object with a member per 12 bytes and no array: a million-column record."""
    members = max(1, size // 12)
    with path.open("wb") as out:
        out.write(b"{")
        for start in range(0, members, 100_000):
            stop = min(members, start + 100_000)
            out.write(b",".join(b'"k%d":1' % n for n in range(start, stop)))
            out.write(b"," if stop < members else b"}")


def _workbook(
    path: Path,
    sheet: Callable[[zipfile.ZipFile], None],
    shared_strings: bytes = b"",
    styles: bytes = b"",
) -> None:
    """A minimal .xlsx whose first sheet `sheet` writes (streamed, compressed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxml'
            'formats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application'
            '/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
            'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/>'
            + (
                '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                if shared_strings
                else ""
            )
            + "</Types>",
        )
        book.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxml'
            'formats.org/officeDocument/2006/relationships/officeDocument" Target='
            '"xl/workbook.xml"/></Relationships>',
        )
        book.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxml'
            'formats.org/officeDocument/2006/relationships/worksheet" Target='
            '"worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxml'
            'formats.org/officeDocument/2006/relationships/sharedStrings" Target='
            '"sharedStrings.xml"/></Relationships>',
        )
        if shared_strings:
            book.writestr("xl/sharedStrings.xml", shared_strings)
        if styles:
            book.writestr("xl/styles.xml", styles)
        sheet(book)


SHEET_HEAD = (
    b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    b'2006/main">'
)


SST_HEAD = (
    b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)
STYLES_HEAD = (
    b'<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main">'
)


def _sheet(dimension: bytes, row: bytes, unpacked: int) -> Callable[[zipfile.ZipFile], None]:
    def write(book: zipfile.ZipFile) -> None:
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=unpacked > 2**31) as out:
            out.write(SHEET_HEAD + dimension + b"<sheetData>")
            out.write(b'<row r="1"><c r="A1" t="inlineStr"><is><t>n</t></is></c></row>')
            block = row * max(1, WRITE_BYTES // len(row))
            for _ in range(0, unpacked, len(block)):
                out.write(block)
            out.write(b"</sheetData></worksheet>")

    return write


def xlsx_bomb(path: Path, unpacked: int) -> None:
    """A workbook of a few hundred KB whose sheet unpacks to `unpacked` bytes of rows."""
    _workbook(path, _sheet(b"", b"<row><c><v>1</v></c></row>", unpacked))


def xlsx_wide_dimension(path: Path, unpacked: int) -> None:
    """A sheet declaring every column Excel has (A:XFD), so each row is 16,384 cells."""
    dimension = b'<dimension ref="A1:XFD1048576"/>'
    _workbook(path, _sheet(dimension, b"<row><c><v>1</v></c></row>", unpacked))


def xlsx_shared_strings_bomb(path: Path, unpacked: int) -> None:
    """A shared-string table of `unpacked` bytes of short distinct strings (packing too
    poorly to look like a bomb), all of which openpyxl would hold in memory."""
    strings = b"".join(b"<si><t>%x</t></si>" % n for n in range(unpacked // 22))
    shared = SST_HEAD + strings + b"</sst>"
    _workbook(path, _sheet(b"", b'<row><c t="s"><v>0</v></c></row>', 1000), shared)


def xlsx_far_cells(path: Path, unpacked: int) -> None:
    """No declared dimension, and a cell in Excel's last column (XFD) on every row: each
    row is read as 16,384 cells, so only the time limit stops it."""
    row = b'<row><c r="A2"><v>%d</v></c><c r="XFD2"><v>%d</v></c></row>'

    def write(book: zipfile.ZipFile) -> None:
        with book.open("xl/worksheets/sheet1.xml", "w") as out:
            out.write(SHEET_HEAD + b"<sheetData>")
            out.write(b'<row r="1"><c r="A1" t="inlineStr"><is><t>n</t></is></c></row>')
            for start in range(0, unpacked // len(row), 10_000):
                out.write(
                    b"".join(row % (n, n * 7919 % 100_003) for n in range(start, start + 10_000))
                )
            out.write(b"</sheetData></worksheet>")

    _workbook(path, write)


def xlsx_parts_at_caps(path: Path, unpacked: int) -> None:
    """Shared strings and styles each just under their caps: the most openpyxl holds."""
    strings = b"".join(b"<si><t>%x</t></si>" % n for n in range(14_900_000 // 22))
    shared = SST_HEAD + strings + b"</sst>"
    xfs = b"".join(
        b'<xf numFmtId="%d" fontId="0" fillId="0" borderId="0"/>' % (n % 50)
        for n in range(2_900_000 // 60)
    )
    styles = STYLES_HEAD + b"<cellXfs>" + xfs + b"</cellXfs></styleSheet>"
    _workbook(path, _sheet(b"", b'<row><c t="s"><v>7</v></c></row>', unpacked), shared, styles)


def xlsx_million_rows(path: Path, rows: int) -> None:
    """A real sheet of `rows` rows (Excel's most is 1,048,576) of varied numbers."""

    def write(book: zipfile.ZipFile) -> None:
        with book.open("xl/worksheets/sheet1.xml", "w") as out:
            out.write(SHEET_HEAD + b"<sheetData>")
            out.write(b'<row r="1"><c r="A1" t="inlineStr"><is><t>n</t></is></c></row>')
            for start in range(2, rows + 1, 10_000):
                stop = min(rows + 1, start + 10_000)
                out.write(
                    b"".join(
                        b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (n, n, n * 7919 % 100_003)
                        for n in range(start, stop)
                    )
                )
            out.write(b"</sheetData></worksheet>")

    _workbook(path, write)


def zip_of_many_entries(path: Path, size: int) -> None:
    """A ZIP named .xlsx whose central directory lists `size / 100` tiny entries."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for n in range(size // 100):
            archive.writestr(f"x/{n}", b"")


def zip_named_csv(path: Path, size: int) -> None:
    """A workbook (a ZIP) named .csv."""
    xlsx_bomb(path, min(size, 1_000_000))


def binary_named_csv(path: Path, size: int) -> None:
    """Random bytes named .csv."""
    with path.open("wb") as out:
        for _ in range(0, size, WRITE_BYTES):
            out.write(os.urandom(WRITE_BYTES))


def text_then_binary_csv(path: Path, size: int) -> None:
    """A good CSV for its first 100 KB, then random bytes: past the head type detection reads."""
    rows = b"".join(b"%d,Customer %d\n" % (n, n) for n in range(8_000))
    with path.open("wb") as out:
        out.write(b"id,name\n" + rows)
        for _ in range(0, size, WRITE_BYTES):
            out.write(os.urandom(WRITE_BYTES))


def json_named_csv(path: Path, size: int) -> None:
    """A JSON array of records named .csv."""
    _write_repeated(path, b"[", b'{"name": "Ann", "n": 1},', size, b'{"name": "Bob", "n": 2}]')


def text_named_xlsx(path: Path, size: int) -> None:
    """A plain CSV named .xlsx."""
    _write_repeated(path, b"name,email\n", b"Ann,ann@example.com\n", size)


def good_csv(path: Path, size: int) -> None:
    """A well-formed CSV, to show the limits leave real data alone."""
    _write_repeated(path, b"id,name,amount\n", b"1,Customer,10.50\n2,Other,3\n", size)


@dataclass(frozen=True)
class Hostile:
    name: str  #: file name, whose extension is the visitor's claim
    write: Callable[[Path, int], None]
    size: int  #: full size for the bench, in bytes (unpacked size for a workbook)


HOSTILE = (
    Hostile("one-line.csv", one_line_csv, 120 * MB),
    Hostile("unclosed-quote.csv", unclosed_quote_csv, 120 * MB),
    Hostile("million-columns.csv", million_columns_csv, 120 * MB),
    Hostile("duplicate-headers.csv", duplicate_headers_csv, 120 * MB),
    Hostile("wide-rows.csv", wide_rows_csv, 120 * MB),
    Hostile("nested.json", nested_json, 120 * MB),
    Hostile("wide-object.json", wide_json_object, 120 * MB),
    Hostile("bomb.xlsx", xlsx_bomb, 265 * MB),
    Hostile("wide-dimension.xlsx", xlsx_wide_dimension, 5 * MB),
    Hostile("shared-strings.xlsx", xlsx_shared_strings_bomb, 200 * MB),
    Hostile("parts-at-caps.xlsx", xlsx_parts_at_caps, 1000),
    Hostile("far-cells.xlsx", xlsx_far_cells, 30 * MB),
    Hostile("million-rows.xlsx", xlsx_million_rows, 1_048_575),
    Hostile("many-entries.xlsx", zip_of_many_entries, 30 * MB),
    Hostile("workbook.csv", zip_named_csv, 1 * MB),
    Hostile("binary.csv", binary_named_csv, 120 * MB),
    Hostile("text-then-binary.csv", text_then_binary_csv, 120 * MB),
    Hostile("json.csv", json_named_csv, 120 * MB),
    Hostile("text.xlsx", text_named_xlsx, 120 * MB),
    Hostile("good.csv", good_csv, 120 * MB),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full sizes")
    parser.add_argument("--only", help="run only the files whose name contains this")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT_S, help="seconds")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.time_limit)
        return 0
    print(f"{'file':<24}{'size MB':>9}  {'outcome':<10}{'peak MB':>8}{'seconds':>9}  message")
    worst_mb, late = 0.0, False
    for hostile in HOSTILE:
        if args.only and args.only not in hostile.name:
            continue
        with tempfile.TemporaryDirectory(prefix="leadsync-hostile-") as folder:
            path = Path(folder) / hostile.name
            hostile.write(path, int(hostile.size * args.scale))
            size_mb = path.stat().st_size / MB
            got = measure(path, time_limit_s=args.time_limit)
        worst_mb = max(worst_mb, got.peak_mb)
        late |= got.seconds > args.time_limit + 5
        print(
            f"{hostile.name:<24}{size_mb:>9.1f}  {got.outcome:<10}{got.peak_mb:>8.1f}"
            f"{got.seconds:>9.1f}  {got.message[:90]}",
            flush=True,
        )
    print(f"worst peak RSS: {worst_mb:.1f} MB (target < {TARGET_PEAK_MB} MB)")
    return 0 if worst_mb < TARGET_PEAK_MB and not late else 1


if __name__ == "__main__":
    sys.exit(main())
