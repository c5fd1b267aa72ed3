"""Tests for protocol_tracker.qc.parsers.csv_export: instrument CSV exports via a mapping."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol_tracker.qc.parsers import (
    MAX_CSV_BYTES,
    CsvRow,
    ParseError,
    parse_csv,
    validate_mapping,
)
from protocol_tracker.qc.parsers import csv_export as csv_module

COUNTESS = {
    "sample_id": "Sample",
    "fields": {
        "viable_cells_per_ml": {"column": "Live cells/mL", "unit": "cells/mL"},
        "viability_pct": {"column": "Viability (%)", "unit": "%"},
        "total_cells": {"column": "Total cells", "unit": "cells"},
    },
}
GOOD_ROWS = [
    CsvRow(
        line=2,
        sample_id="EnSC-D5-A",
        values={
            "viable_cells_per_ml": (1230000.0, "cells/mL"),
            "viability_pct": (95.2, "%"),
            "total_cells": (1500000.0, "cells"),
        },
    ),
    CsvRow(
        line=3,
        sample_id="EnSC-D5-B",
        values={
            "viable_cells_per_ml": (980000.0, "cells/mL"),
            "viability_pct": (88.0, "%"),
            "total_cells": (1250000.0, "cells"),
        },
    ),
]


def mapping(**overrides: object) -> dict[str, object]:
    return {**COUNTESS, **overrides}


def parse_error(data: bytes, column_mapping: dict[str, object] | None = None) -> ParseError:
    with pytest.raises(ParseError) as excinfo:
        parse_csv(data, COUNTESS if column_mapping is None else column_mapping)
    return excinfo.value


# --- good files -----------------------------------------------------------------------------


def test_comma_separated() -> None:
    data = (
        b"Sample,Live cells/mL,Viability (%),Total cells\n"
        b"EnSC-D5-A,1.23E+06,95.2,1500000\n"
        b"EnSC-D5-B,9.8e5,88,1.25E6\n"
    )
    assert parse_csv(data, COUNTESS) == GOOD_ROWS


def test_utf8_bom_and_crlf() -> None:
    data = (
        "\ufeffSample,Live cells/mL,Viability (%),Total cells\r\n"
        "EnSC-D5-A,1.23E+06,95.2 %,1500000\r\n"
        "EnSC-D5-B,980000,88%,1250000\r\n"
    ).encode()
    assert parse_csv(data, COUNTESS) == GOOD_ROWS


def test_semicolon_with_decimal_comma_detected() -> None:
    data = (
        b"Sample;Live cells/mL;Viability (%);Total cells\n"
        b"EnSC-D5-A;1,23E+06;95,2;1.500.000\n"
        b"EnSC-D5-B;980000;88,0 %;1 250 000\n"
    )
    assert parse_csv(data, mapping(decimal=",")) == GOOD_ROWS


def test_tab_separated() -> None:
    data = (
        b"Sample\tLive cells/mL\tViability (%)\tTotal cells\n"
        b"EnSC-D5-A\t1230000\t95.2\t1500000\n"
        b"EnSC-D5-B\t980000\t88\t1250000\n"
    )
    assert parse_csv(data, COUNTESS) == GOOD_ROWS


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_windows_export(encoding: str) -> None:
    text = (
        "Sample\tLive cells/mL\tViability (%)\tTotal cells\r\n"
        "EnSC-D5-A\t1.23E+06\t95.2\t1500000\r\n"
        "EnSC-D5-B\t980000\t88\t1250000\r\n"
    )
    data = text.encode(encoding)  # "utf-16" writes a BOM, the other two do not
    assert parse_csv(data, COUNTESS) == GOOD_ROWS


def test_utf16_with_bom_and_decimal_comma() -> None:
    text = "Sample;Live cells/mL;Viability (%);Total cells\r\nEnSC-D5-A;1,23E+06;95,2;1500000\r\n"
    data = b"\xff\xfe" + text.encode("utf-16-le")
    assert parse_csv(data, mapping(decimal=",")) == GOOD_ROWS[:1]


def test_windows_1252_header() -> None:
    data = "Sample,Live cells/µL,Viability (%),Total cells\nA1,1230,95.2,1500\n".encode("cp1252")
    fields = {
        "viable_cells_per_ul": {"column": "Live cells/µL", "unit": "cells/µL"},
        "viability_pct": {"column": "Viability (%)", "unit": "%"},
    }
    rows = parse_csv(data, mapping(fields=fields))
    assert rows == [
        CsvRow(
            line=2,
            sample_id="A1",
            values={"viable_cells_per_ul": (1230.0, "cells/µL"), "viability_pct": (95.2, "%")},
        )
    ]


def test_header_whitespace_and_case_differences() -> None:
    data = (
        b"  SAMPLE , live  cells/ml,VIABILITY (%) ,total cells\n"
        b" EnSC-D5-A , 1230000 , 95.2 , 1500000 \n"
        b"EnSC-D5-B,980000,88,1250000\n"
    )
    assert parse_csv(data, COUNTESS) == GOOD_ROWS


def test_skip_rows_preamble_and_line_numbers() -> None:
    data = (
        b"Vi-CELL BLU export\n"
        b"Instrument S/N: VCB-1234;Software 1.2\n"
        b"Sample;Live cells/mL;Viability (%);Total cells\n"
        b"EnSC-D5-A;1230000;95.2;1500000\n"
        b"\n"
        b"EnSC-D5-B;980000;88;1250000\n"
    )
    rows = parse_csv(data, mapping(skip_rows=2, delimiter=";"))
    assert [(row.line, row.sample_id) for row in rows] == [(4, "EnSC-D5-A"), (6, "EnSC-D5-B")]


def test_quoted_fields_thousands_separators_and_multiline_cells() -> None:
    data = (
        b"Sample,Live cells/mL,Viability (%),Total cells,Comment\n"
        b'EnSC-D5-A,"1,230,000",95.2,"1,500,000.0","two\nlines"\n'
        b'"EnSC-D5-B",980000,"88",1250000,\n'
    )
    rows = parse_csv(data, COUNTESS)
    assert [row.values["total_cells"] for row in rows] == [
        (1500000.0, "cells"),
        (1250000.0, "cells"),
    ]
    assert rows[0].values["viable_cells_per_ml"] == (1230000.0, "cells/mL")
    assert [row.line for row in rows] == [2, 4]


def test_unit_suffix_and_extra_columns_are_accepted() -> None:
    data = (
        b"Run,Sample,Live cells/mL,Viability (%),Total cells,\n"
        b"1,EnSC-D5-A,1.23E+06 cells/mL,95.2 %,1500000 CELLS,\n"
    )
    assert parse_csv(data, COUNTESS) == GOOD_ROWS[:1]


def test_explicit_delimiter_overrides_detection() -> None:
    data = b"Sample|Live cells/mL|Viability (%)|Total cells\nEnSC-D5-A|1230000|95.2|1500000\n"
    assert parse_csv(data, mapping(delimiter="|")) == GOOD_ROWS[:1]


def test_negative_and_signed_values_are_numbers() -> None:
    data = b"Sample,Live cells/mL,Viability (%),Total cells\nA,+1e6,-0.5,.5\n"
    assert parse_csv(data, COUNTESS)[0].values == {
        "viable_cells_per_ml": (1000000.0, "cells/mL"),
        "viability_pct": (-0.5, "%"),
        "total_cells": (0.5, "cells"),
    }


# --- bad rows -------------------------------------------------------------------------------


def test_bad_rows_are_all_listed() -> None:
    data = (
        b"Sample,Live cells/mL,Viability (%),Total cells\n"
        b"A,1230000,95.2,1500000\n"
        b"B,980000,88,1250000\n"
        b"C,980000,abc,1250000\n"
        b"D,NaN,95,inf\n"
        b",1e999,95,\n"
    )
    error = parse_error(data)
    assert error.message == "3 invalid row(s) in the CSV export (header on line 1)"
    assert error.errors == (
        "line 4, column 'Viability (%)': 'abc' is not a number",
        "line 5, column 'Live cells/mL': 'NaN' is not a finite number",
        "line 5, column 'Total cells': 'inf' is not a finite number",
        "line 6, column 'Sample': the sample ID is empty",
        "line 6, column 'Live cells/mL': '1e999' is not a finite number",
        "line 6, column 'Total cells': the value is empty",
    )
    assert str(error).splitlines()[1] == "- line 4, column 'Viability (%)': 'abc' is not a number"


@pytest.mark.parametrize(
    ("cell", "decimal", "reason"),
    [
        ("95,2", ".", "'95,2' is not a number (the mapping's decimal separator is '.')"),
        ("95.2", ",", "'95.2' is not a number (the mapping's decimal separator is ',')"),
        (
            "1,234",
            ".",
            "'1,234' is ambiguous: ',' could be a thousands separator or a decimal separator "
            "(the mapping's decimal separator is '.')",
        ),
        (
            "1.234",
            ",",
            "'1.234' is ambiguous: '.' could be a thousands separator or a decimal separator "
            "(the mapping's decimal separator is ',')",
        ),
        ("1,23,456", ".", "'1,23,456' is not a number"),
        ("12 %", ".", "'12 %' is not a number"),  # "%" only for percentage units
        ("1.2.3", ".", "'1.2.3' is not a number"),
        ("-", ".", "'-' is not a number"),
        ("0x10", ".", "'0x10' is not a number"),
        ("-Infinity", ".", "'-Infinity' is not a finite number"),
        ("   ", ".", "the value is empty"),
    ],
)
def test_bad_numbers(cell: str, decimal: str, reason: str) -> None:
    data = f'Sample;Live cells/mL;Viability (%);Total cells\nA;"{cell}";95;1\n'.encode()
    error = parse_error(data, mapping(decimal=decimal, delimiter=";"))
    assert error.errors == (f"line 2, column 'Live cells/mL': {reason}",)


@pytest.mark.parametrize(
    ("cell", "decimal", "value"),
    [
        ("1,234,567", ".", 1234567.0),
        ("1,234.5", ".", 1234.5),
        ("1.234.567", ",", 1234567.0),
        ("1.234,5", ",", 1234.5),
        ("1 234 567", ".", 1234567.0),
        ("1\u00a0234,5", ",", 1234.5),
        ("1'234'567", ".", 1234567.0),
        ("1234", ".", 1234.0),
        ("1,5e3", ",", 1500.0),
        ("2.", ".", 2.0),
    ],
)
def test_good_numbers(cell: str, decimal: str, value: float) -> None:
    data = f'Sample;Live cells/mL;Viability (%);Total cells\nA;"{cell}";95;1\n'.encode()
    rows = parse_csv(data, mapping(decimal=decimal, delimiter=";"))
    assert rows[0].values["viable_cells_per_ml"] == (value, "cells/mL")


def test_short_and_long_rows() -> None:
    data = (
        b"Sample,Live cells/mL,Viability (%),Total cells\n"
        b"A,1230000,95.2\n"
        b"B,1230000,95.2,1500000,oops\n"
        b"C,1230000,95.2,1500000,,\n"
    )
    error = parse_error(data)
    assert error.errors == (
        "line 2: expected 4 columns, found 3",
        "line 3: expected 4 columns, found 5",
    )


def test_short_row_missing_only_unmapped_cells_is_accepted() -> None:
    data = b"Sample,Live cells/mL,Viability (%),Total cells,Comment\nA,1230000,95.2,1500000\n"
    assert [row.sample_id for row in parse_csv(data, COUNTESS)] == ["A"]


# --- bad files ------------------------------------------------------------------------------


def test_missing_column_is_named_with_the_columns_found() -> None:
    data = b"Sample,Live cells/mL,Viability,Total\nA,1230000,95.2,1500000\n"
    error = parse_error(data)
    assert str(error) == (
        "the CSV export lacks the mapped column(s) 'Viability (%)', 'Total cells'; "
        "columns found in the header on line 1: 'Sample', 'Live cells/mL', 'Viability', "
        "'Total' (check the mapping's column names, 'delimiter' and 'skip_rows')"
    )


def test_missing_column_with_preamble_not_skipped() -> None:
    data = b"Countess 3 FL report\nSample,Live cells/mL,Viability (%),Total cells\nA,1,2,3\n"
    error = parse_error(data)
    assert error.message.startswith("the CSV export lacks the mapped column(s) 'Sample', ")
    assert "columns found in the header on line 1: 'Countess 3 FL report'" in error.message


def test_duplicate_mapped_column() -> None:
    data = b"Sample,Live cells/mL,Viability (%),Total cells,viability (%)\nA,1,2,3,4\n"
    assert parse_error(data).message == (
        "the mapped column(s) 'Viability (%)' appear more than once in the header on line 1"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file: 0 bytes"),
        (b"  \r\n\n\t\n", "empty file: no text"),
        (b"\xef\xbb\xbf", "empty file: no text"),
        (
            b"Sample,Live cells/mL,Viability (%),Total cells\r\n\r\n",
            "no data rows after the header on line 1",
        ),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "not a CSV export: it looks like a PNG image",
        ),
        (
            b"PK\x03\x04\x14\x00\x06\x00",
            "not a CSV export: it looks like a ZIP archive "
            "(e.g. an XLSX workbook; export it as CSV)",
        ),
        (b"FCS3.1    ", "not a CSV export: it looks like an FCS file"),
        (
            b"\x00\x01\x02\x03garbage\xff\xfe",
            "binary data, not a text CSV export (it contains NUL bytes)",
        ),
        (
            b"Sample,Viability\nA,\x07\x08\n",
            "binary data, not a text CSV export: control character U+0007 on line 2",
        ),
        (
            b"\x81\x8d\x8f\x90\x9d",
            "binary data, not a text CSV export (not UTF-8 or Windows-1252 text)",
        ),
        (
            b"\xef\xbb\xbfSample\xff\n",
            "the file starts with a UTF-8 byte-order mark but is not valid UTF-8 (byte 9)",
        ),
    ],
)
def test_bad_files(data: bytes, message: str) -> None:
    assert str(parse_error(data)) == message


def test_skip_rows_beyond_the_file() -> None:
    error = parse_error(b"a\nb\n", mapping(skip_rows=5))
    assert error.message == "the file has only 2 lines, but the mapping skips 5 preamble lines"


def test_only_preamble_then_nothing() -> None:
    error = parse_error(b"preamble\n\n\n", mapping(skip_rows=1))
    assert error.message == "no header row: the file has no non-blank lines after the preamble"


def test_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_CSV_BYTES == 20 * 1024 * 1024
    monkeypatch.setattr(csv_module, "MAX_CSV_BYTES", 10)
    assert parse_error(b"Sample,Viability\n").message == (
        "CSV export too large: 17 bytes (the limit is 10 bytes)"
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ('A,1,2,3\n"B,1,2,3\n', "unexpected end of data"),
        ('A,1,2,3\n"B\n\nC,1,2,3\n', "unexpected end of data"),
        ('A,1,2,3\n"B"x,1,2,3\nC,1,2,3\n', "',' expected after '\"'"),
    ],
)
def test_malformed_quoting_is_reported_with_its_line(rows: str, message: str) -> None:
    error = parse_error(("Sample,Live cells/mL,Viability (%),Total cells\n" + rows).encode())
    assert error.message == f"malformed CSV in the record starting on line 3: {message}"


def test_malformed_quoting_keeps_earlier_row_errors() -> None:
    data = b'Sample,Live cells/mL,Viability (%),Total cells\nA,x,2,3\n"B,1,2,3\n'
    error = parse_error(data)
    assert error.errors == ("line 2, column 'Live cells/mL': 'x' is not a number",)


def test_rejects_non_bytes_with_type_error() -> None:
    with pytest.raises(TypeError):
        parse_csv("Sample\nA\n", COUNTESS)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.binary(max_size=2048))
def test_any_bytes_parse_or_raise_parse_error(data: bytes) -> None:
    try:
        rows = parse_csv(data, COUNTESS)
    except ParseError:
        return
    assert all(isinstance(row, CsvRow) for row in rows)


@settings(max_examples=200, deadline=None, database=None)
@given(
    body=st.text(alphabet=st.sampled_from(list('AB,;\t"\n\r 0123456789.,eE+-%'))),
)
def test_any_text_after_a_valid_header_parses_or_raises_parse_error(body: str) -> None:
    data = ("Sample,Live cells/mL,Viability (%),Total cells\n" + body).encode()
    try:
        rows = parse_csv(data, COUNTESS)
    except ParseError:
        return
    assert rows
    assert all(isinstance(row.values["viability_pct"][0], float) for row in rows)


# --- mapping --------------------------------------------------------------------------------


def test_valid_mapping_has_no_problems() -> None:
    assert validate_mapping(COUNTESS) == []
    assert validate_mapping(mapping(delimiter="\t", skip_rows=3, decimal=",")) == []


@pytest.mark.parametrize(
    ("bad", "problems"),
    [
        ([], ["mapping must be a dict, not list"]),
        (
            {},
            [
                "'sample_id' must be the non-empty header of the sample ID column",
                "'fields' must be a non-empty dict of metric -> {column, unit}",
            ],
        ),
        (
            mapping(sample_id="  "),
            ["'sample_id' must be the non-empty header of the sample ID column"],
        ),
        (mapping(fields={}), ["'fields' must be a non-empty dict of metric -> {column, unit}"]),
        (
            mapping(fields={"viability_pct": {"column": "Viability", "units": "%"}}),
            [
                "field 'viability_pct': unknown key 'units'",
                "field 'viability_pct': 'unit' must be a non-empty unit string",
            ],
        ),
        (
            mapping(fields={"viability_pct": "Viability"}),
            ["field 'viability_pct' must be a dict with 'column' and 'unit'"],
        ),
        (
            mapping(fields={"": {"column": "Viability", "unit": "%"}}),
            ["metric key '' must be a non-empty string"],
        ),
        (
            mapping(fields={"viability_pct": {"column": "", "unit": "%"}}),
            ["field 'viability_pct': 'column' must be a non-empty column header"],
        ),
        (mapping(delimiter=":"), ["'delimiter' must be one of ',', ';', '\\t', '|', not ':'"]),
        (mapping(skip_rows=-1), ["'skip_rows' must be a whole number >= 0, not -1"]),
        (mapping(skip_rows=True), ["'skip_rows' must be a whole number >= 0, not True"]),
        (mapping(skip_rows="2"), ["'skip_rows' must be a whole number >= 0, not '2'"]),
        (mapping(decimal=";"), ["'decimal' must be '.' or ',', not ';'"]),
        (mapping(encoding="utf-8"), ["unknown mapping key 'encoding'"]),
    ],
)
def test_validate_mapping_problems(bad: object, problems: list[str]) -> None:
    assert validate_mapping(bad) == problems


def test_parse_csv_rejects_an_invalid_mapping() -> None:
    error = parse_error(b"Sample\nA\n", mapping(decimal=";"))
    assert error.message == "invalid column mapping"
    assert error.errors == ("'decimal' must be '.' or ',', not ';'",)
