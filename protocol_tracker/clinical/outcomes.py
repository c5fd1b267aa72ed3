"""The outcome picture of a recipient: per visit its values in both unit systems, the Igls
classes and the VX-880 endpoint with their inputs, the CGM targets; the series over time since
transplant with the baseline; the therapy events ("insulin-free since day 77"); dose and
endotoxin per kg. Built from :class:`~.selectors.CohortData` (no queries here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from protocol_tracker.clinical.dosing import dosing
from protocol_tracker.clinical.measures import ALTERNATE_UNIT, MEASURES, Measure
from protocol_tracker.clinical.models import (
    Formulation,
    Recipient,
    TherapyEvent,
    TherapyEventKind,
    Visit,
    VisitKind,
)
from protocol_tracker.clinical.rules import igls, vx880
from protocol_tracker.clinical.rules.cgm_targets import judge_targets
from protocol_tracker.clinical.rules.common import Measures
from protocol_tracker.specs import units

SERIES = (
    Measure.INSULIN_DOSE,
    Measure.HBA1C,
    Measure.C_PEPTIDE_FASTING,
    Measure.C_PEPTIDE_STIMULATED,
    Measure.TIR,
)
DAYS_PER_YEAR = 365.25


@dataclass
class CohortData:
    """What the outcome picture of some recipients is computed from (fetched in bulk)."""

    recipients: list[Recipient]
    formulations: dict[int, Formulation]  # by recipient
    visits: dict[int, list[Visit]]  # by recipient, in date order, with .current values
    events: dict[int, list[TherapyEvent]]
    transplant: dict[int, date]  # by run
    schedule: dict[int, list[int]]  # by protocol: the follow-up visit days after the transplant
    endotoxin: dict[int, float]  # by run
    egfr_threshold: dict[int, float]  # by lab


def _values(visit: Visit) -> dict[str, float]:
    return {v.measure: v.value_canonical for v in getattr(visit, "current", [])}


def _value_rows(visit: Visit) -> list[dict]:
    rows = []
    for v in getattr(visit, "current", []):
        spec = MEASURES[v.measure]
        alt = ALTERNATE_UNIT.get(v.measure)
        if alt is not None and v.unit == alt:  # entered in the other system: show the canonical
            alt = spec.unit
        rows.append(
            {
                "id": v.pk,
                "measure": v.measure,
                "label": str(Measure(v.measure).label),
                "value": v.value,
                "unit": v.unit,
                "canonical": v.value_canonical,
                "canonical_unit": spec.unit,
                "alternate": (
                    round(units.convert(v.value_canonical, spec.unit, alt, analyte=spec.analyte), 3)
                    if alt
                    else None
                ),
                "alternate_unit": alt,
                "source": v.source,
            }
        )
    return rows


def _measures(values: dict[str, float], day: int | None, she_per_year: float | None) -> Measures:
    def whole(key: str) -> int | None:
        return None if key not in values else int(values[key])

    return Measures(
        day=day,
        hba1c=values.get(Measure.HBA1C),
        c_peptide_fasting=values.get(Measure.C_PEPTIDE_FASTING),
        c_peptide_stimulated=values.get(Measure.C_PEPTIDE_STIMULATED),
        insulin=values.get(Measure.INSULIN_DOSE),
        she_events=whole(Measure.SEVERE_HYPO),
        she_per_year=she_per_year,
        tir=values.get(Measure.TIR),
        tbr54=values.get(Measure.TBR54),
        egfr=values.get(Measure.EGFR),
        oral_agents=whole(Measure.ORAL_AGENTS),
    )


def _events(recipient: Recipient, data: CohortData, tx: date | None) -> list[dict]:
    return [
        {
            "id": e.pk,
            "kind": e.kind,
            "label": str(TherapyEventKind(e.kind).label),
            "drug": e.drug,
            "date": e.on_date.isoformat(),
            "day": None if tx is None else (e.on_date - tx).days,
            "note": e.note,
        }
        for e in data.events.get(recipient.pk, [])
    ]


def _insulin_free_since(events: list[dict]) -> int | None:
    since = None
    for e in events:
        if e["kind"] == TherapyEventKind.INSULIN_STOPPED and since is None:
            since = e["day"]
        elif e["kind"] == TherapyEventKind.INSULIN_RESTARTED:
            since = None
    return since


def outcome_picture(recipient: Recipient, data: CohortData) -> dict:
    """The recipient's outcomes (see the module docstring); plain data for the API and pages."""
    formulation = data.formulations.get(recipient.pk)
    visits = data.visits.get(recipient.pk, [])
    run_id = formulation.run_id if formulation else (visits[0].run_id if visits else None)
    tx = data.transplant.get(run_id) if run_id else None
    threshold = data.egfr_threshold.get(recipient.lab_id)
    baseline_visit = next(
        (v for v in visits if v.kind == VisitKind.BASELINE and v.run_id == run_id), None
    )
    base_values = _values(baseline_visit) if baseline_visit else {}
    base_she = base_values.get(Measure.SEVERE_HYPO)  # events in the 12 months before
    baseline = _measures(base_values, None, base_she)
    rows, previous_day = [], 0
    she_after_90 = 0
    insulin_days: list[tuple[int, float]] = []
    for visit in visits:
        if visit.run_id != run_id:
            continue
        values = _values(visit)
        day = None if tx is None else (visit.visit_date - tx).days
        row: dict = {
            "id": visit.pk,
            "kind": visit.kind,
            "date": visit.visit_date.isoformat(),
            "label": visit.label,
            "day": day,
            "values": _value_rows(visit),
        }
        if visit.kind == VisitKind.BASELINE or day is None:
            rows.append(row)
            continue
        events = values.get(Measure.SEVERE_HYPO)
        span = max(day - previous_day, 1)
        she_rate = None if events is None else round(events * DAYS_PER_YEAR / span, 2)
        previous_day = day
        if events is not None and day > 90:
            she_after_90 += int(events)
        if Measure.INSULIN_DOSE in values:
            insulin_days.append((day, values[Measure.INSULIN_DOSE]))
        m = _measures(values, day, she_rate)
        late = [dose for d, dose in insulin_days if d >= 180]
        row["assessments"] = {
            "igls_2018": igls.igls_2018(m, baseline, egfr_threshold=threshold).as_dict(),
            "igls_2_0": igls.igls_2_0(m, baseline, egfr_threshold=threshold).as_dict(),
            "vx880": vx880.vx880_composite(
                day=day,
                hba1c=m.hba1c,
                baseline_hba1c=baseline.hba1c,
                she_events_since_day_90=she_after_90 if day >= 90 else None,
                insulin_free_since_day_180=(all(d == 0 for d in late) if late else None),
            ).as_dict(),
        }
        row["cgm_targets"] = judge_targets(
            {k: values.get(k) for k in ("tir", "tbr70", "tbr54", "tar180", "tar250", "cv")},
            recipient.cgm_target_set,
        )
        rows.append(row)
    events = _events(recipient, data, tx)
    series = {
        str(measure): [
            {"day": r["day"] if r["kind"] != VisitKind.BASELINE else None, "value": v["canonical"]}
            for r in rows
            for v in r["values"]
            if v["measure"] == measure
        ]
        for measure in SERIES
    }
    dose = None
    if formulation is not None:
        d = dosing(
            weight_kg=formulation.weight_kg,
            volume_ml=formulation.volume_ml,
            dose_cells=formulation.dose_cells,
            dose_ieq=formulation.dose_ieq,
            route=formulation.route,
            endotoxin_eu_per_ml=data.endotoxin.get(formulation.run_id),
        )
        dose = {
            "formulation_id": formulation.pk,
            "run": formulation.run.code,
            "weight_kg": float(formulation.weight_kg),
            "volume_ml": float(formulation.volume_ml),
            "dose_cells": formulation.dose_cells,
            "dose_ieq": formulation.dose_ieq,
            "route": formulation.route,
            "expires_at": formulation.expires_at.isoformat(),
            **d.__dict__,
        }
    latest = next((r for r in reversed(rows) if "assessments" in r), None)
    run = formulation.run if formulation else (visits[0].run if visits else None)
    planned = data.schedule.get(run.protocol_id, []) if run is not None else []
    return {
        "recipient": recipient.pk,
        "code": recipient.donor.code,
        "cgm_target_set": recipient.cgm_target_set,
        "transplant_date": tx.isoformat() if tx else None,
        "egfr_threshold": threshold,
        "baseline_visit": baseline_visit.pk if baseline_visit else None,
        "visits": rows,
        "series": series,
        "baseline": {str(k): base_values.get(k) for k in SERIES},
        "events": events,
        "insulin_free_since_day": _insulin_free_since(events),
        "latest_igls": latest["assessments"]["igls_2018"]["outcome"] if latest else None,
        "latest_day": latest["day"] if latest else None,
        "latest_values": {v["measure"]: v["canonical"] for v in latest["values"]} if latest else {},
        "dosing": dose,
        "schedule": _schedule(planned, tx, rows),
    }


def _schedule(days: list[int], tx: date | None, rows: list[dict]) -> list[dict]:
    """The protocol's follow-up visits (days after the transplant) and the visit that kept each:
    the nearest follow-up within a week (two weeks from day 56 on)."""
    if tx is None:
        return []
    seen = [r for r in rows if r["kind"] == VisitKind.FOLLOW_UP and r["day"] is not None]
    out = []
    for day in days:
        window = 7 if day < 56 else 14
        near = [r for r in seen if abs(r["day"] - day) <= window]
        best = min(near, key=lambda r: abs(r["day"] - day)) if near else None
        out.append(
            {
                "day": day,
                "date": (tx + timedelta(days=day)).isoformat(),
                "visit": best["id"] if best else None,
                "visit_day": best["day"] if best else None,
            }
        )
    return out
