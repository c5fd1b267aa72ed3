"""Every read of clinical records, scoped to the user's labs; query counts do not grow with the
number of visits or recipients (the outcome picture of a whole cohort is a fixed number of
queries)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from labs.models import Lab
from protocol_tracker.clinical.models import (
    CGMImport,
    ClinicalSettings,
    Formulation,
    Recipient,
    TherapyEvent,
    Visit,
    VisitKind,
    VisitValue,
)
from protocol_tracker.clinical.outcomes import CohortData, outcome_picture
from protocol_tracker.core.actors import Person
from protocol_tracker.protocols.models import StageKind, TaskTemplate
from protocol_tracker.qc.models import QCResult
from protocol_tracker.runs.models import Donor, Run, StageRun


def recipients_for_user(user: Person) -> QuerySet[Recipient]:
    """Recipients with ``current_formulation`` (a list of 0 or 1) and ``baseline_visits``."""
    return (
        Recipient.objects.for_user(user)
        .select_related("donor", "lab")
        .prefetch_related(  # type: ignore[type-var]  # two Prefetch objects (django-stubs)
            Prefetch(
                "formulations",
                queryset=Formulation.objects.filter(superseded_by__isnull=True)
                .select_related("run")
                .order_by("-recorded_at", "-id"),
                to_attr="current_formulation",
            ),
            Prefetch(
                "visits",
                queryset=Visit.objects.filter(kind=VisitKind.BASELINE).order_by("id"),
                to_attr="baseline_visits",
            ),
        )
    )


def recipient_for_user(*, recipient_id: int, user: Person) -> Recipient:
    """Raises Recipient.DoesNotExist for another lab's recipient (a 404)."""
    return recipients_for_user(user).get(pk=recipient_id)


def recipient_of_donor(*, donor_id: int) -> Recipient | None:
    return Recipient.objects.filter(donor_id=donor_id).first()


def _current_values() -> QuerySet[VisitValue]:
    return VisitValue.objects.filter(superseded_by__isnull=True).order_by("measure", "id")


def visits_for_user(user: Person) -> QuerySet[Visit]:
    return (
        Visit.objects.for_user(user)
        .select_related("recipient__donor", "run")
        .prefetch_related(Prefetch("values", queryset=_current_values(), to_attr="current"))
    )


def visit_for_user(*, visit_id: int, user: Person) -> Visit:
    return visits_for_user(user).get(pk=visit_id)


def cgm_imports_of_visit(visit: Visit) -> QuerySet[CGMImport]:
    return CGMImport.objects.filter(visit=visit)


def clinical_settings_of(lab: Lab | int) -> ClinicalSettings | None:
    lab_id = lab if isinstance(lab, int) else lab.pk
    return ClinicalSettings.objects.filter(lab_id=lab_id).first()


def egfr_threshold_of(lab: Lab | int) -> float:
    found = clinical_settings_of(lab)
    return found.egfr_threshold if found else ClinicalSettings.DEFAULT_EGFR_THRESHOLD


def transplant_dates(runs: Iterable[Run]) -> dict[int, date]:
    """When each run's transplant stage started, as a date in its lab's time zone."""
    by_id = {run.pk: run for run in runs}
    found: dict[int, date] = {}
    rows = (
        StageRun.objects.filter(
            run_id__in=list(by_id), stage__kind=StageKind.TRANSPLANT, started_at__isnull=False
        )
        .order_by("started_at")
        .values_list("run_id", "started_at")
    )
    for run_id, started_at in rows:
        if run_id not in found:
            found[run_id] = timezone.localtime(started_at, by_id[run_id].lab.tz).date()
    return found


def transplant_date(run: Run) -> date | None:
    return transplant_dates([run]).get(run.pk)


def current_formulation(*, recipient: Recipient, run: Run | None = None) -> Formulation | None:
    rows = Formulation.objects.filter(recipient=recipient, superseded_by__isnull=True)
    if run is not None:
        rows = rows.filter(run=run)
    return rows.select_related("run").order_by("-recorded_at", "-id").first()


def endotoxin_results(run_ids: Iterable[int]) -> dict[int, float]:
    """The current endotoxin result in EU/mL (LAL) of each run's release stage."""
    rows = QCResult.objects.filter(
        stage_run__run_id__in=list(run_ids),
        stage_run__stage__kind=StageKind.RELEASE,
        checkpoint__unit="EU/mL",
        superseded_by__isnull=True,
        value_in_spec_unit__isnull=False,
    ).values_list("stage_run__run_id", "value_in_spec_unit")
    return {run_id: value for run_id, value in rows if value is not None}


def cohort_data(recipients: QuerySet[Recipient]) -> CohortData:
    """Everything the outcome pictures need, in seven queries whatever the cohort's size."""
    people = list(recipients.select_related("donor", "lab"))
    ids = [r.pk for r in people]
    formulations: dict[int, Formulation] = {}
    for f in (
        Formulation.objects.filter(recipient_id__in=ids, superseded_by__isnull=True)
        .select_related("run__lab")
        .order_by("recorded_at", "id")
    ):
        formulations[f.recipient_id] = f
    visits: dict[int, list[Visit]] = defaultdict(list)
    runs: dict[int, Run] = {f.run_id: f.run for f in formulations.values()}
    for v in (
        Visit.objects.filter(recipient_id__in=ids)
        .select_related("run__lab")
        .prefetch_related(Prefetch("values", queryset=_current_values(), to_attr="current"))
        .order_by("visit_date", "id")
    ):
        visits[v.recipient_id].append(v)
        runs.setdefault(v.run_id, v.run)
    events: dict[int, list[TherapyEvent]] = defaultdict(list)
    for e in TherapyEvent.objects.filter(recipient_id__in=ids).order_by("on_date", "id"):
        events[e.recipient_id].append(e)
    labs = {r.lab_id for r in people}
    thresholds = {lab: ClinicalSettings.DEFAULT_EGFR_THRESHOLD for lab in labs}
    for s in ClinicalSettings.objects.filter(lab_id__in=labs):
        thresholds[s.lab_id] = s.egfr_threshold
    protocols = {run.protocol_id for run in runs.values()}
    schedule: dict[int, list[int]] = {}
    for protocol_id, on_days in TaskTemplate.objects.filter(
        stage__protocol_id__in=protocols,
        stage__kind=StageKind.FOLLOW_UP,
        on_days__isnull=False,
    ).values_list("stage__protocol_id", "on_days"):
        schedule.setdefault(protocol_id, [])
        schedule[protocol_id] = sorted({*schedule[protocol_id], *(on_days or [])})
    return CohortData(
        recipients=people,
        formulations=formulations,
        visits=dict(visits),
        events=dict(events),
        transplant=transplant_dates(runs.values()) if runs else {},
        schedule=schedule,
        endotoxin=endotoxin_results(runs) if runs else {},
        egfr_threshold=thresholds,
    )


def recipient_outcomes(recipient: Recipient) -> dict:
    """The outcome picture of one recipient (see :mod:`protocol_tracker.clinical.outcomes`)."""
    return outcome_picture(recipient, cohort_data(Recipient.objects.filter(pk=recipient.pk)))


def cohort_outcomes(user: Person) -> list[dict]:
    """The outcome picture of every recipient the user may see (the PI's cohort table)."""
    data = cohort_data(recipients_for_user(user))
    return [outcome_picture(r, data) for r in data.recipients]


def followup_section(run: Run) -> dict | None:
    """The batch record's follow-up section of ``run``: the recipient's visits as plain rows and
    the chart's series and events (None when the run has no recipient records)."""
    recipient = Recipient.objects.filter(donor_id=run.donor_id).first()
    if recipient is None:
        return None
    picture = recipient_outcomes(recipient)
    rows = [
        {
            "date": v["date"],
            "day": v["day"],
            "kind": v["kind"],
            "label": v["label"],
            "values": [f"{x['label']}: {x['value']:g} {x['unit']}".strip() for x in v["values"]],
            "igls": (v.get("assessments") or {}).get("igls_2018", {}).get("outcome"),
            "igls_2_0": (v.get("assessments") or {}).get("igls_2_0", {}).get("outcome"),
            "vx880": (v.get("assessments") or {}).get("vx880", {}).get("outcome"),
        }
        for v in picture["visits"]
    ]
    return {"picture": picture, "rows": rows}


def donors_without_record(*, lab: Lab, user: Person) -> QuerySet[Donor]:
    """The lab's donors who have no clinical record yet (to open one)."""
    return Donor.objects.for_user(user).filter(lab=lab, recipient__isnull=True).order_by("code")


def runs_of_recipient(recipient: Recipient) -> QuerySet[Run]:
    """The recipient's own runs (autologous: the donor's), newest first."""
    return Run.objects.filter(lab_id=recipient.lab_id, donor_id=recipient.donor_id).order_by(
        "-created_at", "-id"
    )


def lab_cohort_outcomes(*, user: Person, lab: Lab) -> list[dict]:
    """The cohort table of one lab (the PI's view)."""
    data = cohort_data(recipients_for_user(user).filter(lab=lab))
    return [outcome_picture(r, data) for r in data.recipients]


def visit_detail(*, visit_id: int, user: Person) -> Visit:
    """A visit with ``current`` values and its CGM imports (``imports``)."""
    return (
        visits_for_user(user)
        .prefetch_related(
            Prefetch("cgm_imports", queryset=CGMImport.objects.order_by("-id"), to_attr="imports")
        )
        .get(pk=visit_id)
    )
