"""Clinical records built through the clinical services: a transplanted run, its recipient, the
formulated product, a baseline visit and follow-up visits."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import count

import time_machine
from django.utils import timezone

from protocol_tracker.clinical import services as clinical
from protocol_tracker.clinical.models import Recipient, Visit
from protocol_tracker.runs.models import Run
from protocol_tracker.runs.services import run_create, run_start, stage_start
from tests.builders.definitions import clinical_protocol_data
from tests.builders.release import release
from tests.builders.runs import T0, new_donor, work_stage
from tests.factories import MembershipFactory, UserFactory, protocol_from_dict

H = timedelta(hours=1)
RELEASED_AT = T0 + 80 * H
TRANSPLANT_AT = T0 + 90 * H  # 2026-03-06 03:00 Shanghai
_codes = count(1)


def clinician_of(lab):
    """A new clinician of ``lab``."""
    user = UserFactory(username=f"clin-{lab.slug}-{next(_codes)}")
    MembershipFactory(user=user, lab=lab, role="clinician")
    return user


def clinical_protocol(lab):
    return protocol_from_dict(lab, clinical_protocol_data(f"clinical-{next(_codes)}"))


def released_run(lab, technician, reviewer, *, protocol=None, endotoxin: float = 0.5) -> Run:
    """A run of ``clinical_protocol_data`` manufactured and released at ``RELEASED_AT`` (its
    release LAL result ``endotoxin`` EU/mL)."""
    protocol = protocol or clinical_protocol(lab)
    donor = new_donor(lab, technician)
    run = run_create(lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=T0)
    with time_machine.travel(T0, tick=False):
        run = run_start(run=run, actor=technician)
    stages = {sr.stage.key: sr for sr in run.stage_runs.select_related("stage")}
    work_stage(stages["collect"], actor=technician, at=T0 + 24 * H)
    work_stage(stages["release"], actor=technician, at=T0 + 72 * H, values={"endotoxin": endotoxin})
    run.refresh_from_db()
    with time_machine.travel(RELEASED_AT, tick=False):
        return release(run, reviewer)


def start_transplant(run: Run, technician, at: datetime = TRANSPLANT_AT):
    sr = run.stage_runs.select_related("stage").get(stage__key="transplant")
    with time_machine.travel(at, tick=False):
        return stage_start(stage_run=sr, actor=technician)


def recipient_of(run: Run, clinician, **kw) -> Recipient:
    return clinical.recipient_create(lab=run.lab, donor=run.donor, actor=clinician, **kw)


def formulate(recipient, run, actor, *, weight=70, volume=10, expires_at=None, **kw):
    with time_machine.travel(RELEASED_AT - 2 * H, tick=False):
        return clinical.formulation_record(
            recipient=recipient,
            run=run,
            weight_kg=weight,
            volume_ml=volume,
            dose_cells=kw.pop("dose_cells", 7e8),
            dose_ieq=kw.pop("dose_ieq", 1.4e6),
            expires_at=expires_at or RELEASED_AT + 48 * H,
            actor=actor,
            **kw,
        )


def visit(recipient, run, clinician, day: date, kind="follow_up", values=None, label=""):
    v = clinical.visit_create(
        recipient=recipient, run=run, kind=kind, visit_date=day, label=label, actor=clinician
    )
    if values:
        clinical.visit_values_record(
            visit=v,
            values=[
                {"measure": m, "value": val, "unit": unit} for m, (val, unit) in values.items()
            ],
            actor=clinician,
        )
    return Visit.objects.get(pk=v.pk)


def baseline_values() -> dict:
    return {
        "hba1c": (8.4, "%"),
        "c_peptide_fasting": (0.15, "ng/mL"),
        "c_peptide_stimulated": (0.3, "ng/mL"),
        "insulin_dose": (0.62, "U/kg/day"),
        "oral_agents": (2, "count"),
        "severe_hypo_events": (0, "count"),
        "egfr": (78, "mL/min/1.73 m2"),
        "tir": (57, "%"),
        "tbr54": (1.2, "%"),
    }


def local_date(moment: datetime, lab) -> date:
    return timezone.localtime(moment, lab.tz).date()


# --- standing clinical records for the access matrices -----------------------------------------


class Standing:
    """A world's (or a scenario's) clinical records: a recipient with a formulation on the
    world's run and a baseline visit with an HbA1c value."""

    def __init__(self, run, worker) -> None:
        self.clinician = clinician_of(run.lab)
        self.recipient = recipient_of(run, self.clinician)
        self.formulation = clinical.formulation_record(
            recipient=self.recipient,
            run=run,
            weight_kg=70,
            volume_ml=10,
            expires_at=timezone.now() + timedelta(days=2),
            actor=worker,
        )
        self.visit = visit(
            self.recipient, run, self.clinician, date(2026, 3, 1), "baseline", {"hba1c": (8.1, "%")}
        )
        self.value = self.visit.values.get()


def standing(world) -> Standing:
    """The standing clinical records of an API world or a web scenario (built once)."""
    found = getattr(world, "_clinical", None)
    if found is None:
        worker = getattr(world, "worker", None) or world.run.created_by
        found = Standing(world.run, worker)
        world._clinical = found
    return found


def fresh_recipient(run_factory):
    """A new recipient with a run of their own: ``run_factory()`` makes the run."""
    run = run_factory()
    clinician = clinician_of(run.lab)
    return recipient_of(run, clinician), run, clinician


def fresh_visit(run_factory, *, with_value: bool = False):
    recipient, run, clinician = fresh_recipient(run_factory)
    values = {"hba1c": (8.0, "%")} if with_value else None
    return visit(recipient, run, clinician, date(2026, 3, 1), "baseline", values)
