"""QC exports: CSV and Excel of a run, a protocol version or a date range; formula injection
escaped; another lab's run is a 404."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
import time_machine

from protocol_tracker.outcomes.exports import HEADER, safe_text
from protocol_tracker.qc.services import qc_result_record
from protocol_tracker.runs.models import StageRun
from protocol_tracker.runs.services import stage_start
from tests.api.conftest import client_for
from tests.builders import T0, token_for

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def results(active_run, technician):
    """'collect' of the run with its result, commented with something that looks like a
    formula."""
    collect = StageRun.objects.get(run=active_run, stage__key="collect")
    with time_machine.travel(T0, tick=False):
        collect = stage_start(stage_run=collect, actor=technician)
    with time_machine.travel(T0 + H, tick=False):
        qc_result_record(stage_run=collect, checkpoint=collect.stage.checkpoints.get(),
                         value=True, unit=None, measured_at=T0, actor=technician,
                         comment='=HYPERLINK("http://evil.example","click")')  # fmt: skip
    return active_run


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
    ],
)
def test_a_cell_that_could_start_a_formula_is_text(raw, shown):
    assert safe_text(raw) == shown


def test_csv_of_a_run_escapes_formulas(results, technician):
    client = client_for(token_for(technician))

    response = client.get(f"/api/v1/qc-exports/?run={results.pk}")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = _csv(response)
    assert rows[0] == HEADER
    [row] = rows[1:]
    record = dict(zip(HEADER, row, strict=True))
    assert record["comment"] == '\'=HYPERLINK("http://evil.example","click")'
    assert (record["run"], record["checkpoint"], record["value"], record["verdict"]) == (
        results.code, "volume_ok", "yes", "pass")  # fmt: skip
    assert record["measured_at"] == "2026-03-02T09:00:00+08:00"  # the lab's clock
    assert record["current"] == "yes"


def test_excel_of_a_run_keeps_text_as_text(results, technician):
    client = client_for(token_for(technician))

    response = client.get(f"/api/v1/qc-exports/?run={results.pk}&output=xlsx")

    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header == HEADER
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert row["comment"].value == '\'=HYPERLINK("http://evil.example","click")'
    assert row["comment"].data_type == "s"
    assert isinstance(row["result_id"].value, int)


def test_a_date_range_and_a_protocol_select_the_results(results, technician, protocol):
    client = client_for(token_for(technician))

    inside = client.get("/api/v1/qc-exports/?measured_from=2026-03-02&measured_to=2026-03-02")
    outside = client.get("/api/v1/qc-exports/?measured_from=2026-03-03")
    by_protocol = client.get(f"/api/v1/qc-exports/?protocol={protocol.pk}")

    assert len(_csv(inside)) == 2 and len(_csv(outside)) == 1 and len(_csv(by_protocol)) == 2


def test_exports_are_scoped_to_the_caller_s_labs(results, other_technician, technician):
    other = client_for(token_for(other_technician))
    mine = client_for(token_for(technician))

    assert other.get(f"/api/v1/qc-exports/?run={results.pk}").status_code == 404
    assert len(_csv(other.get("/api/v1/qc-exports/?measured_from=2026-03-01"))) == 1
    bad = mine.get("/api/v1/qc-exports/?measured_from=2026-03-05&measured_to=2026-03-01")
    assert bad.status_code == 400
    assert mine.get("/api/v1/qc-exports/").status_code == 400


def test_the_web_export_downloads_the_same_file(client, results, technician):
    client.force_login(technician)

    response = client.get("/exports/", {"run": results.code, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="qc-results-lab-a')
    rows = _csv(response)
    assert len(rows) == 2 and rows[1][HEADER.index("comment")].startswith("'=")
    page = client.get("/exports/", {"run": "NOPE", "format": "csv"})
    assert "No run with this code in this lab." in page.content.decode()
