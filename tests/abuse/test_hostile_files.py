"""Hostile uploads end with the visitor's sentence, in bounded memory and time.

Each file is generated at a few tens of MB (`just bench-hostile` runs the full sizes) and
analysed in a fresh process, whose own peak resident memory and wall time are measured.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench import hostile

#: Peak memory of the analysing process, in MB (the issue's bound).
PEAK_MB = hostile.TARGET_PEAK_MB
#: Seconds a refused file may take, start-up of the process excluded: refusals are early.
REFUSAL_S = 5.0
MB = 1_000_000


def analysed(
    folder: Path, name: str, write: Callable[[Path, int], None], size: int, **options: float
) -> hostile.Measured:
    path = folder / name
    write(path, size)
    return hostile.measure(path, wait_s=60, **options)


def assert_refused(got: hostile.Measured, sentence: str) -> None:
    assert got.outcome == "failed"
    assert sentence in got.message
    assert got.peak_mb < PEAK_MB
    assert got.seconds < REFUSAL_S


def test_one_endless_line_fails_naming_the_line_before_it_is_read_whole(tmp_path) -> None:
    got = analysed(tmp_path, "one-line.csv", hostile.one_line_csv, 40 * MB)

    assert_refused(got, "Line 2 is longer than 1 MB")


def test_a_quote_never_closed_fails_naming_the_line(tmp_path) -> None:
    got = analysed(tmp_path, "unclosed.csv", hostile.unclosed_quote_csv, 20 * MB)

    assert_refused(got, "most often a quote that is never closed")


def test_a_million_columns_fail_in_bounded_memory(tmp_path) -> None:
    got = analysed(tmp_path, "wide.csv", hostile.million_columns_csv, 5 * MB)

    assert_refused(got, "Line 1 is longer than 1 MB")


def test_thirty_thousand_repeated_column_names_fail_at_once(tmp_path) -> None:
    got = analysed(tmp_path, "repeats.csv", hostile.duplicate_headers_csv, 5 * MB)

    assert_refused(got, "The file has more than 1,000 columns.")
    assert got.seconds < 1


def test_deeply_nested_json_fails_as_too_deep(tmp_path) -> None:
    got = analysed(tmp_path, "nested.json", hostile.nested_json, 20 * MB)

    assert_refused(got, "nests values inside each other too deeply")


def test_a_json_object_of_a_million_members_fails_as_too_wide(tmp_path) -> None:
    got = analysed(tmp_path, "wide.json", hostile.wide_json_object, 12 * MB)

    assert_refused(got, "The file has more than 1,000 columns.")


def test_an_xlsx_bomb_is_refused_before_it_is_unpacked(tmp_path) -> None:
    got = analysed(tmp_path, "bomb.xlsx", hostile.xlsx_bomb, 100 * MB)

    assert_refused(got, "unpacks to far more than its size")
    assert got.seconds < 1


def test_a_sheet_declaring_every_excel_column_is_refused(tmp_path) -> None:
    got = analysed(tmp_path, "wide.xlsx", hostile.xlsx_wide_dimension, 1 * MB)

    assert_refused(got, "spans more than 1,000 columns")


def test_a_shared_string_table_over_its_cap_is_refused(tmp_path) -> None:
    got = analysed(tmp_path, "strings.xlsx", hostile.xlsx_shared_strings_bomb, 25 * MB)

    assert_refused(got, "too large to analyse once unpacked")


def test_a_zip_listing_a_hundred_thousand_parts_is_refused_unread(tmp_path) -> None:
    got = analysed(tmp_path, "parts.xlsx", hostile.zip_of_many_entries, 10 * MB)

    assert_refused(got, "too large to analyse once unpacked")


@pytest.mark.parametrize(
    ("name", "write", "sentence"),
    [
        ("workbook.csv", hostile.zip_named_csv, "but its content is an Excel workbook"),
        ("binary.csv", hostile.binary_named_csv, "looks like a binary file"),
        ("json.csv", hostile.json_named_csv, "but its content is JSON"),
        ("text.xlsx", hostile.text_named_xlsx, "but its content is delimited text"),
        ("later.csv", hostile.text_then_binary_csv, "The file is not UTF-8 text (on line"),
    ],
)
def test_a_file_lying_about_its_type_is_refused_as_what_it_is(
    tmp_path, name: str, write: Callable[[Path, int], None], sentence: str
) -> None:
    got = analysed(tmp_path, name, write, 20 * MB)

    assert_refused(got, sentence)


def test_an_analysis_past_its_time_limit_fails_at_the_limit(tmp_path) -> None:
    got = analysed(tmp_path, "slow.csv", hostile.good_csv, 40 * MB, time_limit_s=0.5)

    assert got.outcome == "failed"
    assert got.message.startswith("The analysis took longer than 0.5 seconds, so it was stopped.")
    assert 0.5 <= got.seconds < 1.5
    assert got.peak_mb < PEAK_MB


def test_a_good_file_still_completes_within_the_bounds(tmp_path) -> None:
    got = analysed(tmp_path, "good.csv", hostile.good_csv, 20 * MB)

    assert got.outcome == "completed"
    assert got.message.startswith("CSV with 1,")
    assert got.peak_mb < PEAK_MB
