"""Why an analysis failed, in sentences a visitor can act on."""

from __future__ import annotations

#: What the product can analyse, named the way a visitor knows the formats.
SUPPORTED = "a CSV, TSV, JSON, JSON Lines or Excel (.xlsx) file"

EMPTY = "The file is empty. Choose a file with data in it and upload it again."
BLANK = "The file contains only blank space. Choose a file with data in it and upload it again."
NO_ROWS = "The file has no data rows, only column names. Upload a file with at least one record."
NO_RECORDS = "The file contains no records. Upload a file with at least one record."
CORRUPT_XLSX = (
    "The Excel file is damaged or incomplete. Open it in Excel, save it again as .xlsx "
    "and upload it again."
)
XLSX_TOO_COMPLEX = (
    "The Excel file is too large to analyse once unpacked. Upload the data as a CSV file instead."
)
XLSX_BOMB = (
    "The Excel file unpacks to far more than its size, which real workbooks do not. Open it in "
    "Excel and save it again, or upload the data as a CSV file."
)
NO_SHEET = "The Excel file has no worksheet. Upload a workbook with the data on its first sheet."


class AnalysisError(Exception):
    """A file the analysis cannot take; the message is shown to the visitor as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def too_large(limit_bytes: int) -> AnalysisError:
    return AnalysisError(
        f"The file is larger than the {limit_bytes / 1_000_000:g} MB limit. "
        "Upload a smaller sample of the data."
    )


def unsupported(what: str) -> AnalysisError:
    return AnalysisError(
        f"This file looks like {what}, which we cannot analyse. Upload {SUPPORTED}."
    )


def mislabelled(claimed: str, found: str) -> AnalysisError:
    return AnalysisError(
        f"The file is named as {claimed}, but its content is {found}. Check that you chose "
        "the right file, or give it the extension that matches its content."
    )


def not_utf8(where: str) -> AnalysisError:
    return AnalysisError(
        f"The file is not UTF-8 text ({where}). Save it with UTF-8 encoding (in Excel: "
        '"CSV UTF-8") and upload it again.'
    )


def bad_json(line: int, column: int, problem: str) -> AnalysisError:
    return AnalysisError(
        f"The file is not valid JSON: {problem} at line {line}, column {column}. "
        "Fix it or export the data again."
    )


def bad_csv(line: int, problem: str) -> AnalysisError:
    return AnalysisError(
        f"Line {line} of the file cannot be read as delimited text: {problem}. "
        "Export the data again as CSV."
    )


def too_many_columns(limit: int) -> AnalysisError:
    return AnalysisError(
        f"The file has more than {limit:,} columns. Upload a sample with fewer columns."
    )


def record_too_large(limit_bytes: int) -> AnalysisError:
    return AnalysisError(
        f"One record of the file is larger than {_megabytes(limit_bytes)}, which is more "
        "than a sample needs. Upload smaller records."
    )


def line_too_long(line: int, limit_bytes: int) -> AnalysisError:
    return AnalysisError(
        f"Line {line:,} is longer than {_megabytes(limit_bytes)}, which no table row needs. "
        "Check that this is the right file, or export the data again as CSV."
    )


def value_too_long(line: int, limit_chars: int) -> AnalysisError:
    return AnalysisError(
        f"Line {line:,} holds a value longer than {limit_chars:,} characters, most often a "
        "quote that is never closed. Check the quotes on that line, or export the data "
        "again as CSV."
    )


def nested_too_deeply() -> AnalysisError:
    return AnalysisError(
        "The JSON nests values inside each other too deeply to be a table of records. "
        "Upload the records as a flat list of objects."
    )


def xlsx_sheet_too_wide(limit: int) -> AnalysisError:
    return AnalysisError(
        f"The Excel sheet says it spans more than {limit:,} columns. Delete the unused "
        "columns, or upload the data as a CSV file."
    )


def xlsx_too_many_rows(limit: int) -> AnalysisError:
    return AnalysisError(
        f"The Excel sheet has more than {limit:,} rows, more than Excel allows. Upload the "
        "data as a CSV file, or a sample of it."
    )


def too_slow(limit_s: float) -> AnalysisError:
    return AnalysisError(
        f"The analysis took longer than {_duration(limit_s)}, so it was stopped. "
        "Upload a smaller sample of the data."
    )


def _megabytes(size_bytes: int) -> str:
    return f"{size_bytes / 1_000_000:g} MB"


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' * (minutes != 1)}"
    return f"{seconds:g} second{'s' * (seconds != 1)}"
