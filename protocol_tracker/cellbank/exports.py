"""The inventory export as a file: CSV (UTF-8, the import's columns) or Excel (one sheet).

A cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) is written with a leading apostrophe, which spreadsheets show as text
(OWASP "CSV injection"); the import strips it again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def unsafe_cell(value: str) -> str:
    """A cell as the import reads it: the export's protecting apostrophe removed."""
    if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS):
        return value[1:]
    return value


def export_csv(rows: Iterable[dict], columns: Sequence[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c, "")) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_xlsx(rows: Iterable[dict], columns: Sequence[str], *, title: str = "Inventory") -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(columns))
    for row in rows:
        sheet.append([safe_cell(row.get(c, "")) for c in columns])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
