"""The demo seed: runs at telling stages, made by the real services; idempotent."""

from __future__ import annotations

import pytest
from django.utils import timezone

from protocol_tracker.audit.services import audit_chain_verify
from protocol_tracker.cellbank.selectors import bank_counts, box_map
from protocol_tracker.custody.models import IdentityScan, Item, LoggerFile
from protocol_tracker.custody.selectors import custody_chain
from protocol_tracker.demo.custody import demo_custody_seed
from protocol_tracker.demo.runs import demo_runs_seed
from protocol_tracker.demo.stock import demo_stock_seed
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.equipment.selectors import equipment_state
from protocol_tracker.inventory.models import Box
from protocol_tracker.materials.models import MaterialLot
from protocol_tracker.qc.models import Deviation
from protocol_tracker.runs.models import Run, TaskOccurrence
from protocol_tracker.runs.selectors import run_lineage
from tests.builders import published_defaults
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_demo_seed_makes_runs_at_every_interesting_stage(lab, technician, reviewer, clinician):
    published_defaults(lab)

    demo_runs_seed(lab=lab, technician=technician, reviewer=reviewer)
    demo_runs_seed(lab=lab, technician=technician, reviewer=reviewer)

    runs = {r.donor.code: r for r in Run.objects.filter(lab=lab, parent__isnull=True)}
    current = {
        code: run.stage_runs.exclude(status="completed").order_by("order").first()
        for code, run in runs.items()
    }
    assert {
        code: (
            r.status,
            current[code].stage.key if current[code] else None,
            current[code].status if current[code] else None,
        )
        for code, r in runs.items()
    } == {
        "DEMO-001": ("active", "enrolment", "in_progress"),
        "DEMO-002": ("active", "reprogramming", "in_progress"),
        "DEMO-003": ("active", "pbmc_isolation", "in_progress"),
        "DEMO-004": ("completed", None, None),
    }
    assert (
        runs["DEMO-004"]
        .stage_runs.get(stage__key="lot_release")
        .qc_results.get(checkpoint__key="release_sterility")
        .verdict
        == "pending"
    )
    # The out-of-spec viability, and the blood that travelled too warm (its logger's excursion).
    assert list(Deviation.objects.values_list("kind", "status", "run__donor__code")) == [
        ("oos", "open", "DEMO-003"),
        ("custody", "open", "DEMO-003"),
    ]
    feeds_today = (
        TaskOccurrence.objects.filter(
            stage_run__run=runs["DEMO-002"],
            stage_run__stage__key="reprogramming",
            done_at__isnull=True,
        )
        .order_by("due_at")
        .first()
    )
    assert feeds_today is not None
    tree = run_lineage(run=runs["DEMO-002"])
    assert [n.run.status for n in tree.walk()] == ["active", "planned"]
    assert audit_chain_verify().ok


def test_the_demo_shows_a_complete_chain_and_one_wrong_label(lab, technician, reviewer, clinician):
    published_defaults(lab)
    demo_runs_seed(lab=lab, technician=technician, reviewer=reviewer)
    demo_custody_seed(lab=lab, technician=technician)
    demo_custody_seed(lab=lab, technician=technician)  # idempotent

    run = Run.objects.get(lab=lab, donor__code="DEMO-002", parent__isnull=True)
    tube = next(c for c in custody_chain(run=run) if c.item.kind == "blood_tube")
    assert [link.gap for link in tube.links] == ["", ""] and tube.where == "GMP lab goods-in"
    assert set(IdentityScan.objects.filter(run=run).values_list("verdict", flat=True)) == {"match"}
    assert LoggerFile.objects.filter(shipment__run=run, deviation__isnull=True).count() == 1
    (wrong,) = IdentityScan.objects.filter(verdict="mismatch")
    assert wrong.run.donor.code == "DEMO-001" and "another donor" in wrong.reason
    assert Deviation.objects.get(qc_result=wrong.qc_result).severity == "critical"
    assert Item.objects.filter(lab=lab).count() > 5


def test_the_demo_lab_is_stocked(lab, technician, reviewer, lab_admin, clinician):
    published_defaults(lab)
    demo_runs_seed(lab=lab, technician=technician, reviewer=reviewer)

    demo_stock_seed(
        lab=lab, technician=technician, reviewer=reviewer, admin=lab_admin, password=PASSWORD
    )
    demo_stock_seed(
        lab=lab, technician=technician, reviewer=reviewer, admin=lab_admin, password=PASSWORD
    )

    statuses = dict(MaterialLot.objects.values_list("lot_number", "status"))
    assert (statuses["MT-2311B"], statuses["FP-2311"], statuses["MT-2405A"]) == (
        "expired",
        "recalled",
        "released",
    )
    now = timezone.now()
    lapsed = [
        e.code for e in Equipment.objects.filter(lab=lab) if not equipment_state(e, now=now).usable
    ]
    assert lapsed == ["BSC-02"]
    assert set(
        Equipment.objects.filter(lab=lab, instrument__isnull=False).values_list("kind", flat=True)
    ) == {
        "flow_cytometer",
        "cell_counter",
        "plate_reader",
        "qpcr",
        "other",
    }
    assert box_map(box=Box.objects.get(lab=lab, code="B1")).counts["occupied"] == 24
    assert [(b.bank, b.count) for b in bank_counts(lab=lab)] == [("master", 24)]
    flagged = list(Run.objects.filter(lab=lab, flagged=True).values_list("donor__code", flat=True))
    assert flagged == ["DEMO-003"]
    assert Deviation.objects.filter(kind="recall", run__donor__code="DEMO-003").count() == 1
    assert audit_chain_verify().ok
