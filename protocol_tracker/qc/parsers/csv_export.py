"""CSV exports from instruments (e.g. cell counters), read through a per-instrument mapping.

A mapping names the sample ID column and, per metric, the column and the unit::

    {
        "sample_id": "Sample",
        "fields": {
            "viable_cells_per_ml": {"column": "Live cells/mL", "unit": "cells/mL"},
            "viability_pct": {"column": "Viability (%)", "unit": "%"},
        },
        "delimiter": ";",  # optional: ",", ";", tab or "|"; detected from the header if absent
        "skip_rows": 2,  # optional: preamble lines before the header (default 0)
        "decimal": ",",  # optional: "." (default) or ","
    }

Header names are matched ignoring case and surrounding/repeated whitespace.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from protocol_tracker.qc.parsers import ParseError

MAX_CSV_BYTES = 20 * 1024 * 1024
"""Largest CSV export accepted by :func:`parse_csv`."""

_DETECTED_DELIMITERS = (",", ";", "\t")
_ALLOWED_DELIMITERS = (",", ";", "\t", "|")
_MAPPING_KEYS = ("sample_id", "fields", "delimiter", "skip_rows", "decimal")
_FIELD_KEYS = ("column", "unit")
_PERCENT_UNITS = ("percent", "pct")
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
)
_MAGIC_HINTS = (
    (b"PK\x03\x04", "a ZIP archive (e.g. an XLSX workbook; export it as CSV)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office document (export it as CSV)"),
    (b"%PDF", "a PDF report"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"FCS", "an FCS file"),
)
_NON_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
_DIGIT_GROUP_SPACES = " \u00a0\u202f'"
_NUMBER_PATTERNS: dict[str, tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]] = {}


@dataclass(frozen=True)
class CsvRow:
    """One data row: its 1-based line in the file, sample ID and metric -> (value, unit)."""

    line: int
    sample_id: str
    values: dict[str, tuple[float, str]]


class _BadValue(Exception):
    """A cell that is not a usable number; the argument is the reason."""


def validate_mapping(mapping: object) -> list[str]:
    """Return the problems in a column mapping (an empty list means it is valid)."""
    if not isinstance(mapping, dict):
        return [f"mapping must be a dict, not {type(mapping).__name__}"]
    problems = [f"unknown mapping key {key!r}" for key in mapping if key not in _MAPPING_KEYS]
    if not _is_text(mapping.get("sample_id")):
        problems.append("'sample_id' must be the non-empty header of the sample ID column")
    fields = mapping.get("fields")
    if not isinstance(fields, dict) or not fields:
        problems.append("'fields' must be a non-empty dict of metric -> {column, unit}")
    else:
        for metric, spec in fields.items():
            problems.extend(_field_problems(metric, spec))
    if "delimiter" in mapping and mapping["delimiter"] not in _ALLOWED_DELIMITERS:
        problems.append(
            f"'delimiter' must be one of {', '.join(map(repr, _ALLOWED_DELIMITERS))}, "
            f"not {mapping['delimiter']!r}"
        )
    skip_rows = mapping.get("skip_rows", 0)
    if isinstance(skip_rows, bool) or not isinstance(skip_rows, int) or skip_rows < 0:
        problems.append(f"'skip_rows' must be a whole number >= 0, not {skip_rows!r}")
    if mapping.get("decimal", ".") not in (".", ","):
        problems.append(f"'decimal' must be '.' or ',', not {mapping['decimal']!r}")
    return problems


def parse_csv(data: bytes, mapping: dict[str, Any]) -> list[CsvRow]:
    """Parse an instrument CSV export; raise :class:`ParseError` listing every bad row."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_csv() expects bytes, not {type(data).__name__}")
    problems = validate_mapping(mapping)
    if problems:
        raise ParseError("invalid column mapping", errors=problems)
    try:
        return _parse(_decode(bytes(data)), mapping)
    except ParseError:
        raise
    except Exception as exc:  # safety net: callers only ever see ParseError
        raise ParseError(f"CSV export could not be parsed: {type(exc).__name__}: {exc}") from exc


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _field_problems(metric: object, spec: object) -> list[str]:
    if not _is_text(metric):
        return [f"metric key {metric!r} must be a non-empty string"]
    if not isinstance(spec, dict):
        return [f"field {metric!r} must be a dict with 'column' and 'unit'"]
    problems = [f"field {metric!r}: unknown key {key!r}" for key in spec if key not in _FIELD_KEYS]
    if not _is_text(spec.get("column")):
        problems.append(f"field {metric!r}: 'column' must be a non-empty column header")
    if not _is_text(spec.get("unit")):
        problems.append(f"field {metric!r}: 'unit' must be a non-empty unit string")
    return problems


def _decode(data: bytes) -> str:
    """Decode the export (BOM-aware: UTF-8/16/32; else UTF-8, then Windows-1252)."""
    if not data:
        raise ParseError("empty file: 0 bytes")
    if len(data) > MAX_CSV_BYTES:
        raise ParseError(
            f"CSV export too large: {len(data)} bytes (the limit is {MAX_CSV_BYTES} bytes)"
        )
    text = _decode_with_bom(data)
    if text is None:
        for magic, description in _MAGIC_HINTS:
            if data.startswith(magic):
                raise ParseError(f"not a CSV export: it looks like {description}")
        text = _decode_without_bom(data)
    for offset, char in enumerate(text):
        if char not in "\t\r\n" and unicodedata.category(char) == "Cc":
            line = text.count("\n", 0, offset) + 1
            raise ParseError(
                f"binary data, not a text CSV export: control character U+{ord(char):04X} "
                f"on line {line}"
            )
    if not text.strip():
        raise ParseError("empty file: no text")
    return text


def _decode_with_bom(data: bytes) -> str | None:
    for bom, encoding, label in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise ParseError(
                    f"the file starts with a {label} byte-order mark but is not valid {label} "
                    f"(byte {exc.start + len(bom)})"
                ) from exc
    return None


def _decode_without_bom(data: bytes) -> str:
    sample = data[:4096]
    if b"\x00" in sample and len(sample) >= 2:
        # UTF-16 without a BOM: ASCII text has a NUL in every other byte.
        half = len(sample) // 2
        even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
        for encoding, nuls, other in (
            ("utf-16-le", odd_nuls, even_nuls),
            ("utf-16-be", even_nuls, odd_nuls),
        ):
            if nuls >= half * 0.3 and other == 0:
                try:
                    return data.decode(encoding)
                except UnicodeDecodeError:
                    break
        raise ParseError("binary data, not a text CSV export (it contains NUL bytes)")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ParseError("binary data, not a text CSV export (not UTF-8 or Windows-1252 text)")


def _normalise(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


def _parse(text: str, mapping: dict[str, Any]) -> list[CsvRow]:
    skip_rows: int = mapping.get("skip_rows", 0)
    decimal: str = mapping.get("decimal", ".")
    source = io.StringIO(text, newline="")
    for skipped in range(skip_rows):
        if not source.readline():
            raise ParseError(
                f"the file has only {skipped} lines, but the mapping skips {skip_rows} "
                "preamble lines"
            )
    body = source.read()
    wanted = [mapping["sample_id"], *(spec["column"] for spec in mapping["fields"].values())]
    delimiter = mapping.get("delimiter") or _detect_delimiter(body, wanted)

    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    header_line = 0
    columns: dict[str, int] = {}
    rows: list[CsvRow] = []
    errors: list[str] = []
    bad_lines: set[int] = set()
    while True:
        line = skip_rows + reader.line_num + 1  # where the next record starts
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ParseError(
                f"malformed CSV in the record starting on line {line}: {exc}", errors=errors
            ) from exc
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header, header_line = [cell.strip() for cell in record], line
            columns = _locate_columns(header, mapping, header_line)
            continue
        row, row_errors = _read_row(record, line, header, columns, mapping, decimal)
        if row_errors:
            errors.extend(row_errors)
            bad_lines.add(line)
        elif row is not None:
            rows.append(row)

    if header is None:
        raise ParseError("no header row: the file has no non-blank lines after the preamble")
    if errors:
        raise ParseError(
            f"{len(bad_lines)} invalid row(s) in the CSV export (header on line {header_line})",
            errors=errors,
        )
    if not rows:
        raise ParseError(f"no data rows after the header on line {header_line}")
    return rows


def _detect_delimiter(body: str, wanted: list[str]) -> str:
    """Pick the delimiter that splits the header line into the most mapped columns."""
    first_line = next((line for line in body.splitlines() if line.strip()), "")
    targets = {_normalise(name) for name in wanted}

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([first_line], delimiter=delimiter), [])
        found = {_normalise(cell) for cell in cells}
        return len(targets & found), len(cells)

    return max(_DETECTED_DELIMITERS, key=score)


def _locate_columns(header: list[str], mapping: dict[str, Any], line: int) -> dict[str, int]:
    """Map each mapped column header (as written in the mapping) to its index."""
    positions: dict[str, list[int]] = {}
    for index, cell in enumerate(header):
        positions.setdefault(_normalise(cell), []).append(index)
    wanted = [mapping["sample_id"], *(spec["column"] for spec in mapping["fields"].values())]
    missing = [name for name in wanted if _normalise(name) not in positions]
    if missing:
        found = ", ".join(f"'{cell}'" for cell in header if cell) or "none"
        raise ParseError(
            f"the CSV export lacks the mapped column(s) {', '.join(map(repr, missing))}; "
            f"columns found in the header on line {line}: {found} "
            "(check the mapping's column names, 'delimiter' and 'skip_rows')"
        )
    duplicated = sorted({name for name in wanted if len(positions[_normalise(name)]) > 1})
    if duplicated:
        raise ParseError(
            f"the mapped column(s) {', '.join(map(repr, duplicated))} appear more than once "
            f"in the header on line {line}"
        )
    return {name: positions[_normalise(name)][0] for name in wanted}


def _read_row(
    record: list[str],
    line: int,
    header: list[str],
    columns: dict[str, int],
    mapping: dict[str, Any],
    decimal: str,
) -> tuple[CsvRow | None, list[str]]:
    extra = [cell for cell in record[len(header) :] if cell.strip()]
    if extra or max(columns.values()) >= len(record):
        return None, [f"line {line}: expected {len(header)} columns, found {len(record)}"]
    errors: list[str] = []
    sample_index = columns[mapping["sample_id"]]
    sample_id = record[sample_index].strip()
    if not sample_id:
        errors.append(f"line {line}, column '{header[sample_index]}': the sample ID is empty")
    values: dict[str, tuple[float, str]] = {}
    for metric, spec in mapping["fields"].items():
        index = columns[spec["column"]]
        try:
            values[metric] = (_parse_number(record[index], decimal, spec["unit"]), spec["unit"])
        except _BadValue as exc:
            errors.append(f"line {line}, column '{header[index]}': {exc}")
    if errors:
        return None, errors
    return CsvRow(line=line, sample_id=sample_id, values=values), []


def _patterns(decimal: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Regexes for plain, thousands-grouped and space-grouped numbers."""
    if decimal not in _NUMBER_PATTERNS:
        point = re.escape(decimal)
        group = re.escape("," if decimal == "." else ".")
        spaces = re.escape(_DIGIT_GROUP_SPACES)
        _NUMBER_PATTERNS[decimal] = (
            re.compile(rf"[+-]?(?:\d+(?:{point}\d*)?|{point}\d+)(?:[eE][+-]?\d+)?"),
            re.compile(rf"[+-]?\d{{1,3}}(?:{group}\d{{3}})+(?:{point}\d+)?"),
            re.compile(rf"[+-]?\d{{1,3}}(?:[{spaces}]\d{{3}})+(?:{point}\d+)?"),
        )
    return _NUMBER_PATTERNS[decimal]


def _parse_number(raw: str, decimal: str, unit: str) -> float:
    """Parse one cell; ``raise _BadValue(reason)`` if it is not a finite number."""
    text = raw.strip()
    for suffix in _unit_suffixes(unit):
        if text.casefold().endswith(suffix.casefold()):
            text = text[: -len(suffix)].rstrip()
            break
    if not text:
        raise _BadValue("the value is empty")
    if _NON_FINITE.fullmatch(text):
        raise _BadValue(f"'{raw.strip()}' is not a finite number")
    plain, grouped, spaced = _patterns(decimal)
    group = "," if decimal == "." else "."
    if plain.fullmatch(text):
        number = float(text.replace(decimal, "."))
    elif grouped.fullmatch(text):
        if text.count(group) == 1 and decimal not in text:
            raise _BadValue(
                f"'{raw.strip()}' is ambiguous: {group!r} could be a thousands separator "
                f"or a decimal separator (the mapping's decimal separator is {decimal!r})"
            )
        number = float(text.replace(group, "").replace(decimal, "."))
    elif spaced.fullmatch(text):
        for char in _DIGIT_GROUP_SPACES:
            text = text.replace(char, "")
        number = float(text.replace(decimal, "."))
    else:
        hint = ""
        if _patterns(group)[0].fullmatch(text):
            hint = f" (the mapping's decimal separator is {decimal!r})"
        raise _BadValue(f"'{raw.strip()}' is not a number{hint}")
    if not math.isfinite(number):
        raise _BadValue(f"'{raw.strip()}' is not a finite number")
    return number


def _unit_suffixes(unit: str) -> list[str]:
    """Suffixes a cell may carry after the number: the unit itself and, for percentages, %."""
    suffixes = [unit.strip()]
    if "%" in unit or unit.strip().casefold() in _PERCENT_UNITS:
        suffixes.append("%")
    return sorted({suffix for suffix in suffixes if suffix}, key=len, reverse=True)
