"""QC results as CSV and Excel files, safe to open in a spreadsheet.

A cell that begins with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) would be read as
a formula by Excel, LibreOffice and Google Sheets (CSV/formula injection, OWASP): such text is
written with a leading apostrophe, which the spreadsheet shows as text. Numbers stay numbers.
Times are in the lab's time zone with their offset (ISO 8601).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from protocol_tracker import specs

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER = [
    "result_id", "lab", "run", "donor", "protocol", "protocol_version", "stage", "stage_name",
    "checkpoint", "checkpoint_name", "assay", "metric", "value", "unit", "value_in_spec_unit",
    "spec", "verdict", "measured_at", "recorded_at", "recorded_by", "current", "supersedes",
    "reason", "comment",
]  # fmt: skip


def safe_text(value: str) -> str:
    """``value`` as a spreadsheet shows text, never runs: a leading apostrophe when it could
    start a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _value(row: dict) -> float | str | None:
    if row["value_number"] is not None:
        return row["value_number"]
    if row["value_bool"] is not None:
        return "yes" if row["value_bool"] else "no"
    return row["value_text"]


def _time(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else ""


def export_rows(rows: Iterable[dict], *, tz: ZoneInfo) -> Iterator[list]:
    """Each result as a list of cells (``HEADER`` order): numbers as numbers, text escaped."""
    for row in rows:
        snapshot = row["spec_snapshot"] or {}
        cells = [
            row["pk"], row["stage_run__run__lab__slug"], row["stage_run__run__code"],
            row["stage_run__run__donor__code"], row["stage_run__run__protocol__code"],
            row["stage_run__run__protocol__version"], row["stage_run__stage__key"],
            row["stage_run__stage__name"], row["checkpoint__key"], row["checkpoint__name"],
            row["checkpoint__assay"], row["checkpoint__metric"], _value(row), row["unit"],
            row["value_in_spec_unit"],
            specs.describe_spec(snapshot.get("spec") or {}, snapshot.get("unit", "") or ""),
            row["verdict"], _time(row["measured_at"], tz), _time(row["recorded_at"], tz),
            row["recorded_by__username"] or row["recorded_by_instrument__name"] or "",
            "no" if row["superseded_by__id"] else "yes", row["supersedes_id"] or "",
            row["reason"], row["comment"],
        ]  # fmt: skip
        yield [safe_text(c) if isinstance(c, str) else ("" if c is None else c) for c in cells]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list]) -> Iterator[str]:
    """The CSV text, line by line (for a streaming response): a UTF-8 byte-order mark first so
    that Excel reads the Chinese names, then the header."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(HEADER)
    for row in rows:
        yield writer.writerow(row)


def xlsx_bytes(rows: Iterable[list], *, title: str = "QC results") -> bytes:
    """The rows as an Excel workbook (write-only: memory stays flat); text cells are typed as
    text so that nothing is read as a formula."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(HEADER)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
