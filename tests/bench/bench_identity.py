"""Chain of identity: a sheet of 96 cryovial labels (seconds and bytes; the barcodes of every
label decoded back), a 100,000-row data-logger file parsed and judged (rows/s), and the run
page's custody section in queries with 1 and 40 hand-offs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from io import BytesIO


def _logger(rows: int) -> bytes:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    lines = ["\ufeffDate/Time;Temperature (°C)"]
    for i in range(rows):
        value = 5.0 if i % 7000 else 9.4
        lines.append(f"{(start + timedelta(minutes=i)).isoformat()};{value:.1f}".replace(".", ","))
    return ("\n".join(lines) + "\n").encode()


def run() -> dict[str, dict]:
    import pypdfium2 as pdfium
    import zxingcpp
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from labs.models import Lab, Membership, Role
    from protocol_tracker.custody import loggers
    from protocol_tracker.custody import services as custody
    from protocol_tracker.identity.codes import item_id_format, scan_payload
    from protocol_tracker.identity.labels import AUTOLOGOUS_BANNER, LabelContent, render
    from protocol_tracker.web.custody_page import custody_context
    from tests.builders.custody import payload
    from tests.builders.custody_world import custody_world
    from tests.factories import UserFactory

    coi = "DEMO-26-00017-K"
    labels = [
        LabelContent(
            payload=scan_payload(coi, item_id_format("V", n)),
            title=item_id_format("V", n),
            lines=(f"COI {coi}", "Donor DN-00001", "Run DN-00001-E-ISLE-001"),
            banner=AUTOLOGOUS_BANNER,
        )
        for n in range(1, 97)
    ]
    render(template="cryovial", labels=labels[:1], output="pdf", sheet="a4")  # fonts loaded
    started = time.perf_counter()
    sheet = render(template="cryovial", labels=labels, output="pdf", sheet="a4")
    sheet_s = time.perf_counter() - started
    started = time.perf_counter()
    render(template="cryovial", labels=labels, output="pdf", sheet="roll")
    roll_s = time.perf_counter() - started
    started = time.perf_counter()
    zpl = render(template="cryovial", labels=labels, output="zpl")
    zpl_s = time.perf_counter() - started
    document = pdfium.PdfDocument(BytesIO(sheet.content))
    decoded = {
        r.text
        for page in document
        for r in zxingcpp.read_barcodes(page.render(scale=600 / 72).to_pil())
    }
    document.close()
    assert decoded == {label.payload for label in labels}, len(decoded)

    data = _logger(100_000)
    started = time.perf_counter()
    record = loggers.parse(data, zone=UTC)
    judged = loggers.judge(record, min_c=2, max_c=8)
    loggers.downsample(record)
    logger_s = time.perf_counter() - started
    assert len(record.readings) == 100_000 and judged.excursions

    lab = Lab.objects.create(name="Bench identity", slug="bench-identity")
    user = UserFactory(username="bench-identity-tech")
    Membership.objects.create(user=user, lab=lab, role=Role.TECHNICIAN)
    cw = custody_world(lab, user)
    now = datetime.now(UTC)

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            custody_context(cw.run)
        return len(ctx.captured_queries)

    def hand_over(n: int) -> None:
        for i in range(n):
            item = custody.items_register(run=cw.run, kind="vial", count=1, actor=user)[0]
            custody.handoff_send(
                item=item, from_party="Tech", from_location="Bench", to_party="Tech",
                to_location="LN2", sent_at=now - timedelta(minutes=100 - i),
                scanned=payload(item), actor=user,
            )  # fmt: skip

    hand_over(1)
    few = page_queries()
    hand_over(39)
    many = page_queries()

    return {
        "labels: 96-vial A4 sheet, seconds": {"value": sheet_s, "unit": "s", "target": "< 2"},
        "labels: 96-vial A4 sheet, bytes": {"value": len(sheet.content), "unit": "B",
                                            "target": "< 500 kB"},
        "labels: 96 vials on a roll (96 pages), seconds": {"value": roll_s, "unit": "s",
                                                          "target": "< 2"},
        "labels: 96 vials as ZPL, seconds / bytes": {"value": zpl_s, "unit": "s",
                                                     "target": f"{len(zpl.content)} B"},
        "logger: 100,000 rows parsed and judged": {"value": 100_000 / logger_s, "unit": "rows/s",
                                                   "target": "> 100,000"},
        "custody section queries, 1 / 40 hand-offs": {"value": many, "unit": "queries",
                                                      "target": f"equal ({few} / {many})"},
    }  # fmt: skip
