"""The streaming analysis: each format's figures, detection by content, and a clear message
for every file it cannot take."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import openpyxl
import pytest

from storage.analysis import AnalysisError, analyse
from storage.analysis.profile import DistinctRows, TableProfile, header_names

LIMIT = 10_000_000


def run(name: str, data: bytes, max_bytes: int = LIMIT) -> dict:
    return analyse(io.BytesIO(data), filename=name, max_bytes=max_bytes)


def refusal(name: str, data: bytes, max_bytes: int = LIMIT) -> str:
    with pytest.raises(AnalysisError) as caught:
        run(name, data, max_bytes)
    return caught.value.message


def columns(results: dict) -> dict[str, tuple[str, float]]:
    return {c["name"]: (c["type"], c["null_share"]) for c in results["columns"]}


def workbook(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


CSV = (
    b"id,name,amount,joined,active\n"
    b"1,Ann,3.50,2024-01-02,true\n"
    b"2,Bob,,2024-01-03,false\n"
    b"2,Bob,,2024-01-03,false\n"
    b"3,Cy,n/a,2024-01-04T10:00:00Z,true\n"
)


def test_a_csv_reports_its_shape_types_gaps_and_repeats() -> None:
    results = run("sample.csv", CSV)

    assert results["file_type"] == "CSV"
    assert (results["row_count"], results["column_count"]) == (4, 5)
    assert results["size_bytes"] == len(CSV)
    assert columns(results) == {
        "id": ("integer", 0.0),
        "name": ("text", 0.0),
        "amount": ("number", 0.75),
        "joined": ("datetime", 0.0),
        "active": ("boolean", 0.0),
    }
    assert results["duplicate_share"] == 0.25 and not results["duplicates_estimated"]
    assert results["summary"].startswith("CSV with 4 rows and 5 columns (id, name, amount")


def test_the_quality_score_is_the_documented_weighted_mean() -> None:
    results = run("sample.csv", CSV)

    quality = results["quality"]
    assert quality["completeness"] == pytest.approx(1 - 0.75 / 5)
    assert quality["uniqueness"] == 0.75
    assert quality["type_consistency"] == 1.0
    expected = 0.4 * quality["completeness"] + 0.3 * 0.75 + 0.3 * 1.0
    assert results["quality_score"] == round(expected, 2)


def test_a_clean_table_scores_one() -> None:
    assert run("clean.csv", b"a,b\n1,x\n2,y\n")["quality_score"] == 1.0


def test_a_tsv_is_told_by_its_tabs_even_named_csv() -> None:
    results = run("export.csv", b"id\tcity, country\n1\tParis, France\n2\tRome, Italy\n")

    assert results["file_type"] == "TSV"
    assert list(columns(results)) == ["id", "city, country"]


def test_json_lines_records_make_columns_as_keys_appear() -> None:
    data = b'{"a": 1}\n{"a": 2, "b": "x"}\n\n{"a": 2, "b": null, "c": {"k": 1}}\n'

    results = run("events.jsonl", data)

    assert results["file_type"] == "JSON Lines"
    assert results["row_count"] == 3 and results["blank_rows"] == 0
    assert columns(results) == {
        "a": ("integer", 0.0),
        "b": ("text", pytest.approx(2 / 3, abs=1e-4)),
        "c": ("object", pytest.approx(2 / 3, abs=1e-4)),
    }


def test_a_json_array_and_a_data_member_are_both_read_as_records() -> None:
    records = [{"id": i, "tags": ["x"], "at": "2024-05-01"} for i in range(5)]

    plain = run("a.json", json.dumps(records).encode())
    wrapped = run("b.json", json.dumps({"meta": {"n": 5}, "data": records}).encode())

    for results in (plain, wrapped):
        assert results["file_type"] == "JSON" and results["row_count"] == 5
        assert columns(results) == {
            "id": ("integer", 0.0),
            "tags": ("array", 0.0),
            "at": ("date", 0.0),
        }


def test_a_json_array_is_walked_across_buffer_boundaries(monkeypatch) -> None:
    monkeypatch.setattr("storage.analysis.readers.JSON_CHUNK_CHARS", 97)
    records = [{"n": i, "text": "é\u00e9" * (i % 7), "x": 1.5e300} for i in range(2_000)]
    data = json.dumps(records, indent=1).encode()

    results = run("big.json", data)

    assert results["row_count"] == 2_000
    assert columns(results)["x"] == ("number", 0.0)


def test_an_xlsx_first_sheet_is_read_with_its_cell_types() -> None:
    data = workbook(
        [
            ["id", "when", "amount", "note"],
            [1, dt.datetime(2024, 1, 1), 2.5, "ok"],
            [2, dt.datetime(2024, 1, 2, 9, 30), None, "fine"],
            [None, None, None, None],
        ]
    )

    results = run("book.xlsx", data)

    assert results["file_type"] == "XLSX" and results["sheet"] == "Sheet"
    assert results["row_count"] == 2 and results["blank_rows"] == 1
    assert columns(results) == {
        "id": ("integer", 0.0),
        "when": ("datetime", 0.0),
        "amount": ("number", 0.5),
        "note": ("text", 0.0),
    }


def test_the_type_comes_from_the_content_not_the_name() -> None:
    message = refusal("data.csv", b'[{"a": 1}]')

    assert "named as CSV or TSV" in message and "content is JSON" in message


def test_an_image_named_as_a_workbook_is_refused_as_what_it_is() -> None:
    message = refusal("data.xlsx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)

    assert message.startswith("This file looks like a PNG image")


def test_an_old_excel_file_is_told_apart() -> None:
    message = refusal("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)

    assert "Excel .xls" in message


def test_a_word_document_is_not_a_workbook() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")

    assert "a Word document" in refusal("doc.xlsx", buffer.getvalue())


def test_a_truncated_workbook_is_reported_damaged() -> None:
    data = workbook([["a"], [1]])

    assert "damaged or incomplete" in refusal("book.xlsx", data[: len(data) // 2])


def test_malformed_json_names_the_line_and_column() -> None:
    message = refusal("bad.json", b'[\n{"a": 1},\n{"a": 2,,}\n]')

    assert "not valid JSON" in message and "line 3, column 9" in message


def test_a_json_lines_file_with_a_broken_line_names_it() -> None:
    message = refusal("bad.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": \n')

    assert "line 3" in message


def test_text_that_is_not_utf8_says_how_to_save_it() -> None:
    message = refusal("latin.csv", "name\nJosé\n".encode("latin-1"))

    assert "not UTF-8" in message and "CSV UTF-8" in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "The file is empty."),
        (b"  \n\n ", "only blank space"),
        (b"id,name\n", "no data rows"),
        (b"[]", "no records"),
    ],
)
def test_empty_files_end_with_a_clear_message(data: bytes, expected: str) -> None:
    assert expected in refusal("empty.csv" if data[:1] != b"[" else "empty.json", data)


def test_a_file_over_the_limit_is_stopped_at_the_limit() -> None:
    message = refusal("big.csv", b"a\n" + b"1\n" * 1000, max_bytes=1000)

    assert message.startswith("The file is larger than the 0.001 MB limit")


def test_ragged_and_blank_rows_are_counted_not_fatal() -> None:
    results = run("ragged.csv", b"a,b\n1,2\n3\n\n4,5,6\n7,8,,\n")

    assert results["row_count"] == 4
    assert (results["ragged_rows"], results["blank_rows"]) == (2, 1)
    assert columns(results)["b"] == ("integer", 0.25)


def test_mixed_values_lower_type_consistency() -> None:
    results = run("mixed.csv", b"v\n1\n2\nthree\n4\n")

    assert results["columns"][0]["type"] == "integer"
    assert results["columns"][0]["type_consistency"] == 0.75


def test_distinct_rows_stay_bounded_and_estimate_closely(monkeypatch) -> None:
    monkeypatch.setattr(DistinctRows, "CAPACITY", 4096)
    profile = TableProfile(["n"])
    for n in range(100_000):
        profile.add_row([str(n % 50_000)])

    results = profile.results("CSV", 0)

    assert profile.distinct.level > 0 and len(profile.distinct._seen) <= 4096
    assert results["duplicates_estimated"]
    assert results["duplicate_share"] == pytest.approx(0.5, abs=0.05)


MIXED_BREAKS = (
    "\ufeffid,name,note\r\n"
    '1,Ann,"two\r\nlines"\r\n'
    "2,Bob,mac\r"
    "3,Cy,unix\n"
    '4,Di,"quoted, with ""quotes"""\n'
)


def test_delimited_lines_are_joined_across_read_chunks_whatever_their_breaks(
    monkeypatch,
) -> None:
    whole = run("breaks.csv", MIXED_BREAKS.encode())
    monkeypatch.setattr("storage.analysis.readers.LINE_CHUNK_BYTES", 5)

    chunked = run("breaks.csv", MIXED_BREAKS.encode())

    assert chunked == whole
    assert (whole["row_count"], whole["ragged_rows"], whole["blank_rows"]) == (4, 0, 0)
    assert [column["name"] for column in whole["columns"]] == ["id", "name", "note"]


@pytest.mark.parametrize("chunk_bytes", [16, 4096])
def test_a_line_over_the_cap_is_named_wherever_the_chunks_fall(monkeypatch, chunk_bytes) -> None:
    monkeypatch.setattr("storage.analysis.readers.MAX_LINE_BYTES", 50)
    monkeypatch.setattr("storage.analysis.readers.LINE_CHUNK_BYTES", chunk_bytes)
    data = b"a,b\n1,2\n3,4\n5,6\n" + b"7," + b"8" * 60 + b"\n9,10\n"

    message = refusal("long.csv", data)

    assert message.startswith("Line 5 is longer than")


def test_a_record_spread_over_lines_by_quotes_is_capped_like_a_line(monkeypatch) -> None:
    monkeypatch.setattr("storage.analysis.readers.MAX_RECORD_BYTES", 1000)
    data = b"a,b\n" + b'"1\n",' * 300 + b'"x"\n'

    message = refusal("quotes.csv", data)

    assert message.startswith("One record of the file is larger than 0.001 MB")


def test_members_beside_a_json_records_array_are_capped_like_a_record(monkeypatch) -> None:
    monkeypatch.setattr("storage.analysis.readers.MAX_RECORD_CHARS", 1000)
    data = json.dumps({"a": "x" * 600, "b": "y" * 600, "rows": [{"n": 1}]}).encode()

    assert refusal("meta.json", data).startswith("One record of the file is larger than")


def test_repeated_column_names_are_numbered_in_order() -> None:
    names = header_names(["a", "a", "a_2", "a", "", " ", "a"])

    assert names == ["a", "a_2", "a_2_2", "a_3", "column_5", "column_6", "a_4"]


def test_a_header_over_the_column_limit_is_refused_before_its_names_are_made() -> None:
    message = refusal("wide.csv", b",".join([b"id"] * 30_000) + b"\n1\n")

    assert message == "The file has more than 1,000 columns. Upload a sample with fewer columns."
