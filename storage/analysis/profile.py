"""Column types, empty cells, duplicate rows and the quality score, one row at a time.

Memory does not grow with the file: a column keeps one counter per value type, and
duplicate rows are found by hashing each row into `DistinctRows`, which is exact up to
`DistinctRows.CAPACITY` distinct rows and an estimate (within about 0.5 %) beyond.

The quality score (0-1) is
    0.4 x completeness      share of cells that hold a value (not empty, not null-like)
  + 0.3 x uniqueness        1 - share of rows that repeat an earlier row exactly
  + 0.3 x type consistency  mean over non-empty columns of the share of values that have
                            the column's inferred type
so a complete, duplicate-free, consistently typed table scores 1.0. Completeness weighs
most because empty cells are what most often makes a sample unusable.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from storage.analysis import errors

WEIGHTS = {"completeness": 0.4, "uniqueness": 0.3, "type_consistency": 0.3}
#: More columns than any sample needs; also bounds the memory a row can take.
MAX_COLUMNS = 1000
#: Column names listed in the one-line summary.
SUMMARY_COLUMNS = 5

#: Rows classified together: column-wise, so whole columns are tested in one regex pass.
BATCH_ROWS = 4096

# Value types, as list indexes (0 unused).
NULL, INTEGER, NUMBER, BOOLEAN, DATE, DATETIME, TEXT, OBJECT, ARRAY = range(1, 10)
TYPE_NAMES = (
    "",
    "null",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
    "text",
    "object",
    "array",
)

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
#: Text that means "no value" in exported data (compared in lower case).
NULL_WORDS = frozenset({"null", "none", "nan", "n/a", "na", "nil"})
BOOLEAN_WORDS = frozenset({"true", "false"})

# Whole-column tests over the cells joined with NUL (which no text cell holds): each is one
# pass in C, and settles the usual column of one type without a call per cell.
_ALL_INTEGERS = re.compile(r"(?:\s*[+-]?\d+\s*\x00)*")
_ALL_DECIMALS = re.compile(r"(?:\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*\x00)*")
_ALL_DATES = re.compile(r"(?:\s*\d{4}-\d{2}-\d{2}\s*\x00)*")
#: A cell that may be something other than text: blank, led by space, a digit, a sign or a
#: dot, or a null or boolean word. A column without one is all text.
_MAYBE_NOT_TEXT = re.compile(
    r"\x00(?:[\s\d+\-.\x00]|(?i:null|none|nan|n/a|na|nil|true|false)\s*\x00)"
)

Classifier = Callable[[Any], int]


def classify_text(value: str) -> int:
    """The type of a cell of delimited text (or a JSON/Excel string)."""
    text = value.strip()
    if not text:
        return NULL
    first = text[0]
    if first.isdigit() or first in "+-.":
        if _INTEGER.fullmatch(text):
            return INTEGER
        if _NUMBER.fullmatch(text):
            return NUMBER
        if len(text) >= 10 and text[4] == "-":
            if _DATE.fullmatch(text):
                return DATE
            if _DATETIME.fullmatch(text):
                return DATETIME
        return TEXT
    if len(text) <= 5:
        lowered = text.lower()
        if lowered in BOOLEAN_WORDS:
            return BOOLEAN
        if lowered in NULL_WORDS:
            return NULL
    return TEXT


def classify_value(value: Any) -> int:
    """The type of a parsed value (JSON, or an Excel cell as openpyxl reads it)."""
    kind = type(value)
    if value is None:
        return NULL
    if kind is str:
        return classify_text(value)
    if kind is bool:
        return BOOLEAN
    if kind is int:
        return INTEGER
    if kind is float:
        return NUMBER if math.isfinite(value) else NULL
    if kind is dt.datetime:
        return DATE if value.time() == dt.time() else DATETIME
    if kind is dt.date:
        return DATE
    if kind is dict:
        return OBJECT
    if kind is list:
        return ARRAY
    return TEXT


def count_text_column(cells: Sequence[str], counts: list[int]) -> None:
    """Add the types of a column of text cells to `counts`, whole-column tests first."""
    joined = "\x00" + "\x00".join(cells) + "\x00"
    if _ALL_INTEGERS.fullmatch(joined, 1):
        counts[INTEGER] += len(cells)
    elif _ALL_DECIMALS.fullmatch(joined, 1):
        decimals = joined.count(".")  # one dot per decimal, none in an integer
        counts[NUMBER] += decimals
        counts[INTEGER] += len(cells) - decimals
    elif _ALL_DATES.fullmatch(joined, 1):
        counts[DATE] += len(cells)
    elif not _MAYBE_NOT_TEXT.search(joined):
        counts[TEXT] += len(cells)
    else:
        for type_code, count in Counter(map(classify_text, cells)).items():
            counts[type_code] += count


def count_value_column(values: Sequence[Any], counts: list[int]) -> None:
    for type_code, count in Counter(map(classify_value, values)).items():
        counts[type_code] += count


class DistinctRows:
    """Counts distinct row hashes in bounded memory (adaptive distinct sampling).

    All hashes are kept until there are `CAPACITY`; then only those whose lowest `level`
    bits are zero, a 1-in-2**level sample of the distinct rows, whatever their repeats.
    """

    CAPACITY = 1 << 18

    def __init__(self) -> None:
        self.level = 0
        self._mask = 0
        self._seen: set[int] = set()

    def add(self, row_hashes: Iterable[int]) -> None:
        if self.level:
            mask = self._mask
            row_hashes = (h for h in row_hashes if not h & mask)
        self._seen.update(row_hashes)
        while len(self._seen) > self.CAPACITY:
            self.level += 1
            self._mask = mask = (1 << self.level) - 1
            self._seen = {h for h in self._seen if not h & mask}

    @property
    def estimate(self) -> int:
        return len(self._seen) << self.level

    @property
    def exact(self) -> bool:
        return self.level == 0


class TableProfile:
    """Rows fed one at a time: text cells (`add_row`), parsed cells (`add_row` with
    `typed`), or JSON objects (`add_record`); call `results` at the end."""

    def __init__(self, columns: Sequence[str] = (), *, typed: bool = False) -> None:
        self._count_column = count_value_column if typed else count_text_column
        self._pad: Any = None if typed else ""
        self.columns: list[str] = []
        self._index: dict[str, int] = {}
        self._counts: list[list[int]] = []
        for name in columns:
            self._add_column(name)
        self.rows = 0
        self.blank_rows = 0
        self.ragged_rows = 0
        self.distinct = DistinctRows()
        self._batch: list[Sequence[Any]] = []
        self._batch_hashes: list[int] = []

    def add_row(self, row: Sequence[Any]) -> None:
        """A row of cells in column order; cells past the header's are counted, not kept."""
        width = len(self._counts)
        if len(row) != width:
            if len(row) < width:
                if row:
                    self.ragged_rows += 1
                row = [*row, *([self._pad] * (width - len(row)))]
            elif any(row[width:]):
                self.ragged_rows += 1
                row = row[:width]
            else:
                row = row[:width]  # trailing empty cells: a common export habit
        # `any(row)` settles almost every row; the exact test only runs for falsy cells.
        if not any(row) and not any(cell is not None and cell != "" for cell in row):
            self.blank_rows += 1
            return
        self._batch.append(row)
        if len(self._batch) >= BATCH_ROWS:
            self.flush()

    def add_record(self, record: Mapping[str, Any]) -> None:
        """A JSON object; a key not seen before starts a new column."""
        if not record:
            self.blank_rows += 1
            return
        values: list[Any] = [None] * len(self.columns)
        for key, value in record.items():
            index = self._index.get(key)
            if index is None:
                index = self._add_column(key)
                values.append(None)
            values[index] = value
        self._batch.append(values)
        hashable = [_hashable(value) for value in values]
        while hashable and hashable[-1] is None:
            hashable.pop()  # rows from before a column appeared must hash alike
        self._batch_hashes.append(hash(tuple(hashable)))
        if len(self._batch) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Profile the rows held so far (the caller flushes early when they are large)."""
        batch, self._batch = self._batch, []
        if not batch:
            return
        self.rows += len(batch)
        if self._batch_hashes:
            hashes, self._batch_hashes = self._batch_hashes, []
            self.distinct.add(hashes)
            width = len(self._counts)
            batch = [
                row if len(row) == width else [*row, *[None] * (width - len(row))] for row in batch
            ]
        else:
            self.distinct.add(map(hash, map(tuple, batch)))
        for counts, column in zip(self._counts, zip(*batch, strict=True), strict=True):
            self._count_column(column, counts)

    def _add_column(self, name: str) -> int:
        if len(self.columns) >= MAX_COLUMNS:
            raise errors.too_many_columns(MAX_COLUMNS)
        self.columns.append(name)
        self._index[name] = len(self.columns) - 1
        self._counts.append([0] * len(TYPE_NAMES))
        return len(self.columns) - 1

    def results(self, file_type: str, size_bytes: int) -> dict[str, Any]:
        """What the analysis reports (see the module docstring for the score)."""
        self.flush()
        if not self.rows:
            raise errors.AnalysisError(errors.NO_ROWS if self.columns else errors.NO_RECORDS)
        columns = [
            _column(name, counts, self.rows)
            for name, counts in zip(self.columns, self._counts, strict=True)
        ]
        filled = sum(1 - column["null_share"] for column in columns) / len(columns)
        typed = [column["type_consistency"] for column in columns if column["type"] != "empty"]
        duplicate_share = max(0.0, 1 - min(self.distinct.estimate, self.rows) / self.rows)
        quality = {
            "completeness": round(filled, 4),
            "uniqueness": round(1 - duplicate_share, 4),
            "type_consistency": round(sum(typed) / len(typed), 4) if typed else 1.0,
        }
        score = round(sum(WEIGHTS[name] * value for name, value in quality.items()), 2)
        results = {
            "file_type": file_type,
            "size_bytes": size_bytes,
            "row_count": self.rows,
            "column_count": len(columns),
            "columns": columns,
            "duplicate_share": round(duplicate_share, 4),
            "duplicates_estimated": not self.distinct.exact,
            "blank_rows": self.blank_rows,
            "ragged_rows": self.ragged_rows,
            "quality": quality,
            "quality_score": score,
        }
        results["summary"] = summary(results)
        return results


def _column(name: str, counts: list[int], rows: int) -> dict[str, Any]:
    non_null = sum(counts) - counts[NULL]
    type_name, matching = _inferred_type(counts)
    return {
        "name": name,
        "type": type_name,
        "null_share": round(1 - non_null / rows, 4),
        "type_consistency": round(matching / non_null, 4) if non_null else 1.0,
    }


def _inferred_type(counts: list[int]) -> tuple[str, int]:
    """The most common type, integers counting as numbers and dates as datetimes when
    the column also has the wider kind."""
    tallies = {TYPE_NAMES[index]: counts[index] for index in range(INTEGER, len(TYPE_NAMES))}
    if tallies["number"]:
        tallies["number"] += tallies.pop("integer")
    if tallies["datetime"]:
        tallies["datetime"] += tallies.pop("date")
    name, count = max(tallies.items(), key=lambda item: item[1])
    return (name, count) if count else ("empty", 0)


def summary(results: Mapping[str, Any]) -> str:
    """One line a person reads: shape, columns, gaps, repeats, score."""
    names = [column["name"] for column in results["columns"]]
    listed = ", ".join(names[:SUMMARY_COLUMNS])
    if len(names) > SUMMARY_COLUMNS:
        listed += f" and {len(names) - SUMMARY_COLUMNS} more"
    rows, count = results["row_count"], results["column_count"]
    share = results["duplicate_share"]
    about = "about " if results["duplicates_estimated"] else ""
    repeats = f"{about}{share:.1%} duplicate rows" if share else "no duplicate rows"
    return (
        f"{results['file_type']} with {rows:,} row{'s' * (rows != 1)} and {count} "
        f"column{'s' * (count != 1)} ({listed}); {results['quality']['completeness']:.0%} of "
        f"cells filled, {repeats}; quality score {results['quality_score']:.2f}."
    )


def _hashable(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def header_names(cells: Sequence[Any]) -> list[str]:
    """Column names from a header row: blanks named by position, repeats numbered.

    The width is checked first and each name remembers its next number, so a header of
    thousands of repeats costs one pass, not a search per repeat.
    """
    if len(cells) > MAX_COLUMNS:
        raise errors.too_many_columns(MAX_COLUMNS)
    names: list[str] = []
    taken: set[str] = set()
    next_suffix: dict[str, int] = {}
    for position, cell in enumerate(cells, start=1):
        name = str(cell).strip() if cell is not None else ""
        name = candidate = name or f"column_{position}"
        suffix = next_suffix.get(name, 2)
        while candidate in taken:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        next_suffix[name] = suffix
        taken.add(candidate)
        names.append(candidate)
    return names
