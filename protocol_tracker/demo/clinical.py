"""Demo clinical record (``manage.py seed_demo``): a recipient who follows the published course
of the Changzheng case ([S2]: insulin-free from week 11, the two oral agents withdrawn at weeks
48 and 56, kidney function normal) on an E-islet run made, released and transplanted by the real
services on a simulated clock. The glycaemic values and CGM files are synthetic (the paper's
numbers were not retrieved; docs/domain-reference.md §1). Idempotent: a lab that already has the
demo recipient is left alone."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from labs.models import Lab
from protocol_tracker.clinical import services as clinical
from protocol_tracker.clinical.models import Recipient
from protocol_tracker.demo.cgm import synthetic_dexcom_export
from protocol_tracker.demo.runs import _clock, _protocols, _record_passing, _work_until
from protocol_tracker.outcomes.services import run_release
from protocol_tracker.qc.services import qc_result_record, stage_complete
from protocol_tracker.runs.models import StageRun
from protocol_tracker.runs.services import donor_create, run_create, run_start, stage_start

H = timedelta(hours=1)
DAY = 24 * H
DONOR = "DEMO-CZ-01"
SCOPES = ["reprogramming", "banking", "genetic_testing", "future_use"]
TRANSPLANT_DAYS_AGO = 470
# day: (HbA1c %, insulin U/kg/day, fasting / stimulated C-peptide pmol/L, oral agents, eGFR,
#       CGM: TIR-, TBR<70-, TBR<54-, TAR>180-, TAR>250-fractions as % of the day)
COURSE: dict[int, tuple] = {
    -10: (8.2, 0.55, 60, 110, 2, 74, {"tbr54": 1.4, "tbr70": 3.1, "tar180": 27, "tar250": 11}),
    7: (None, 0.45, 150, None, 2, 72, {"tbr54": 1.0, "tbr70": 2.6, "tar180": 25, "tar250": 9}),
    14: (None, 0.38, 210, None, 2, 73, {"tbr54": 0.7, "tbr70": 2.0, "tar180": 22, "tar250": 7}),
    28: (7.6, 0.25, 290, 700, 2, 75, {"tbr54": 0.4, "tbr70": 1.6, "tar180": 18, "tar250": 4}),
    56: (7.1, 0.10, 410, 1050, 2, 76, {"tbr54": 0.2, "tbr70": 1.2, "tar180": 12, "tar250": 2}),
    84: (6.6, 0.0, 520, 1300, 2, 77, {"tbr54": 0.0, "tbr70": 0.8, "tar180": 7, "tar250": 1}),
    182: (6.1, 0.0, 600, 1480, 2, 78, {"tbr54": 0.0, "tbr70": 0.5, "tar180": 4, "tar250": 0.3}),
    273: (5.9, 0.0, 620, 1530, 2, 76, {"tbr54": 0.0, "tbr70": 0.4, "tar180": 3, "tar250": 0}),
    365: (5.8, 0.0, 640, 1580, 1, 77, {"tbr54": 0.0, "tbr70": 0.4, "tar180": 2.5, "tar250": 0}),
    456: (5.7, 0.0, 650, 1600, 0, 78, {"tbr54": 0.0, "tbr70": 0.3, "tar180": 2, "tar250": 0}),
}
LABELS = {
    -10: "baseline",
    7: "week 1",
    14: "week 2",
    28: "week 4",
    56: "week 8",
    84: "week 12",
    182: "month 6",
    273: "month 9",
    365: "month 12",
    456: "month 15",
}


def _manufacture(lab: Lab, technician, reviewer, password: str, transplant_at: datetime):
    islet, _ = _protocols(lab)
    total = sum(
        (
            s.expected_duration
            for s in islet.stages.all()
            if s.kind not in ("transplant", "follow_up")
        ),
        timedelta(),
    )
    start = transplant_at - total - 4 * DAY
    with _clock(start - 3 * DAY):
        donor = donor_create(
            lab=lab,
            code=DONOR,
            consent_given=True,
            consent_scope=SCOPES,
            consent_version="2021-03",
            actor=technician,
        )
        run = run_create(
            lab=lab,
            protocol=islet,
            donor=donor,
            actor=technician,
            planned_start=start,
            code="DEMO-CZ-01-EISLET",
        )
    with _clock(start):
        run_start(run=run, actor=technician)
    release = _work_until(run, actor=technician, stop_at="lot_release")
    assert release is not None
    with _clock(release.planned_start + H):
        release = stage_start(stage_run=release, actor=technician)
        lal = release.stage.checkpoints.get(key="release_endotoxin_lal")
        qc_result_record(
            stage_run=release,
            checkpoint=lal,
            value=0.25,
            unit="EU/mL",
            measured_at=release.planned_start + H,
            actor=technician,
        )
    with _clock(release.due_at - H):
        _record_passing(release, actor=technician, at=release.due_at - 2 * H)
    with _clock(release.due_at):
        stage_complete(stage_run=release, actor=technician, note="demo")
    with _clock(release.due_at + 2 * H):
        run = run_release(run=run, actor=reviewer, password=password)
    return run, release.due_at


def _transplant(run, technician, at: datetime) -> None:
    sr = StageRun.objects.select_related("stage").get(run=run, stage__key="transplant")
    with _clock(at):
        sr = stage_start(stage_run=sr, actor=technician)
        _record_passing(sr, actor=technician, at=at)
    with _clock(at + 3 * H):
        stage_complete(stage_run=sr, actor=technician, note="demo: infusion uneventful")


@transaction.atomic
def demo_clinical_seed(*, lab: Lab, technician, reviewer, clinician, password: str) -> None:
    """The demo recipient and their course (see the module docstring)."""
    if Recipient.objects.filter(lab=lab, donor__code=DONOR).exists():
        return
    now = timezone.now()
    transplant_at = (now - TRANSPLANT_DAYS_AGO * DAY).replace(minute=0, second=0, microsecond=0)
    run, released_at = _manufacture(lab, technician, reviewer, password, transplant_at)
    transplant_at = max(transplant_at, released_at + 6 * H)
    with _clock(released_at - 8 * H):
        recipient = clinical.recipient_create(lab=lab, donor=run.donor, actor=clinician)
        clinical.formulation_record(
            recipient=recipient,
            run=run,
            weight_kg=68.5,
            volume_ml=12,
            dose_cells=8.0e8,
            dose_ieq=1.2e6,
            expires_at=transplant_at + 12 * H,
            actor=technician,
        )
    tx = timezone.localtime(transplant_at, lab.tz).date()
    with _clock(transplant_at - 9 * DAY):
        _visit(recipient, run, clinician, tx, -10)
    _transplant(run, technician, transplant_at)
    for day in [d for d in COURSE if d > 0]:
        _visit(recipient, run, clinician, tx, day)
    for day, kind, drug in (
        (77, "insulin_stopped", ""),
        (336, "oral_agent_withdrawn", "sitagliptin"),
        (392, "oral_agent_withdrawn", "metformin"),
    ):
        clinical.therapy_event_record(
            recipient=recipient,
            kind=kind,
            drug=drug,
            on_date=tx + timedelta(days=day),
            actor=clinician,
        )


def _visit(recipient, run, clinician, tx: date, day: int) -> None:
    hba1c, insulin, fasting, stimulated, agents, egfr, cgm = COURSE[day]
    when = tx + timedelta(days=day)
    visit = clinical.visit_create(
        recipient=recipient,
        run=run,
        kind="baseline" if day < 0 else "follow_up",
        visit_date=when,
        label=LABELS[day],
        actor=clinician,
    )
    values = [
        {"measure": "insulin_dose", "value": insulin, "unit": "U/kg/day"},
        {"measure": "c_peptide_fasting", "value": fasting, "unit": "pmol/L"},
        {"measure": "oral_agents", "value": agents, "unit": "count"},
        {"measure": "severe_hypo_events", "value": 0, "unit": "count"},
        {"measure": "egfr", "value": egfr, "unit": "mL/min/1.73 m2"},
        {"measure": "creatinine", "value": round(8800 / egfr / 10, 2), "unit": "mg/dL"},
        {"measure": "tacrolimus_trough", "value": 6.5, "unit": "ng/mL"},
    ]
    if hba1c is not None:
        values.append(
            {"measure": "hba1c", "value": round((hba1c - 2.15) * 10.929), "unit": "mmol/mol"}
        )
    if stimulated is not None:
        values.append({"measure": "c_peptide_stimulated", "value": stimulated, "unit": "pmol/L"})
    clinical.visit_values_record(visit=visit, values=values, actor=clinician)
    end = datetime.combine(when, datetime.min.time(), tzinfo=recipient.lab.tz) - H
    export = synthetic_dexcom_export(
        end_utc=end,
        days=14,
        tz=recipient.lab.timezone,
        fractions=cgm,
        seed=1000 + day,
        skip_every=97,
    )
    clinical.cgm_import(
        visit=visit,
        data=export,
        filename=f"clarity-{LABELS[day]}.csv",
        device_timezone=recipient.lab.timezone,
        actor=clinician,
    )
