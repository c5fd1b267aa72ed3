"""Clinical services: the formulated product (dose and endotoxin per kg), the expiry gate, visits
and their values, CGM import, the outcome picture; bad input refused with nothing written."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.clinical import selectors
from protocol_tracker.clinical import services as clinical
from protocol_tracker.clinical.models import (
    CGMImport,
    Formulation,
    Recipient,
    Visit,
    VisitValue,
)
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    NotPermitted,
    RowErrors,
    ValidationFailed,
)
from protocol_tracker.runs.models import StageStatus
from tests.builders import clinical as cb
from tests.clinical.cgm_files import dexcom_export

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def released(lab, technician, reviewer):
    return cb.released_run(lab, technician, reviewer)


@pytest.fixture
def recipient(released, clinician):
    return cb.recipient_of(released, clinician)


def _counts():
    return (
        Formulation.objects.count(),
        Visit.objects.count(),
        VisitValue.objects.count(),
        CGMImport.objects.count(),
        AuditEvent.objects.count(),
    )


# --- dose and endotoxin per kg (USP <85>) -----------------------------------------------------


@pytest.mark.parametrize(
    ("eu_per_ml", "volume", "weight", "route", "eu_per_kg", "passes"),
    [
        (0.5, 10, 70, "non_intrathecal", 0.5 * 10 / 70, True),
        (5.0, 70, 70, "non_intrathecal", 5.0, True),  # K = 5.0 EU/kg, inclusive
        (5.0, 70.07, 70, "non_intrathecal", 5.005, False),
        (4.0, 100, 70, "non_intrathecal", 400 / 70, False),
        (2.0, 10, 70, "non_intrathecal", 20 / 70, True),
        (2.0, 10, 70, "intrathecal", 20 / 70, False),  # K = 0.2 EU/kg intrathecal
        (1.4, 10, 70, "intrathecal", 0.2, True),
    ],
)
def test_endotoxin_per_kg_against_usp_85(
    lab, technician, reviewer, clinician, eu_per_ml, volume, weight, route, eu_per_kg, passes
):
    run = cb.released_run(lab, technician, reviewer, endotoxin=eu_per_ml)
    recipient = cb.recipient_of(run, clinician)
    cb.formulate(recipient, run, technician, weight=weight, volume=volume, route=route)

    dosing = selectors.recipient_outcomes(recipient)["dosing"]

    assert dosing["endotoxin_eu_per_ml"] == eu_per_ml
    assert dosing["endotoxin_eu_per_kg"] == pytest.approx(eu_per_kg, rel=1e-12)
    assert dosing["endotoxin_pass"] is passes
    assert dosing["endotoxin_limit_eu_per_kg"] == (0.2 if route == "intrathecal" else 5.0)


def test_dose_per_kg(released, recipient, technician):
    cb.formulate(recipient, released, technician, weight=70, dose_cells=7e8, dose_ieq=1.4e6)

    dosing = selectors.recipient_outcomes(recipient)["dosing"]

    assert (dosing["cells_per_kg"], dosing["ieq_per_kg"]) == (1e7, 20_000.0)
    assert (dosing["weight_kg"], dosing["volume_ml"]) == (70.0, 10.0)


@pytest.mark.parametrize(
    ("weight", "field", "message"),
    [
        (0, "weight_kg", "0 kg is outside 2-350 kg"),
        (900, "weight_kg", "900 kg is outside 2-350 kg"),
        (float("nan"), "weight_kg", "finite"),
        ("seventy", "weight_kg", "not a number"),
        (True, "weight_kg", "a number is required"),
    ],
)
def test_bad_weights_are_refused_and_nothing_is_written(
    released, recipient, technician, weight, field, message
):
    before = _counts()

    with pytest.raises(ValidationFailed) as excinfo:
        cb.formulate(recipient, released, technician, weight=weight)

    assert message in excinfo.value.fields[field][0]
    assert _counts() == before
    released.refresh_from_db()
    assert released.product_expires_at is None


def test_a_second_formulation_corrects_the_first_with_a_reason(released, recipient, technician):
    first = cb.formulate(recipient, released, technician, weight=70)
    with pytest.raises(ValidationFailed, match="needs a reason"):
        cb.formulate(recipient, released, technician, weight=72)

    second = cb.formulate(recipient, released, technician, weight=72, reason="re-weighed")

    assert second.supersedes == first
    assert selectors.current_formulation(recipient=recipient) == second


def test_the_formulation_needs_the_recipients_own_run(lab, technician, reviewer, clinician):
    run = cb.released_run(lab, technician, reviewer)
    someone_else = cb.recipient_of(cb.released_run(lab, technician, reviewer), clinician)

    with pytest.raises(ValidationFailed, match="not a run of this recipient"):
        cb.formulate(someone_else, run, technician)


# --- the product's expiry gates the transplant ------------------------------------------------


def test_the_transplant_cannot_start_after_the_product_expired(released, recipient, technician):
    cb.formulate(recipient, released, technician, expires_at=cb.RELEASED_AT + 6 * H)
    released.refresh_from_db()
    assert released.product_expires_at == cb.RELEASED_AT + 6 * H
    sr = released.stage_runs.get(stage__key="transplant")
    events = AuditEvent.objects.count()

    with pytest.raises(InvalidTransition) as excinfo:
        cb.start_transplant(released, technician, at=cb.RELEASED_AT + 6 * H)

    assert excinfo.value.code == "product_expired"
    assert "expired at 2026-03-05 23:00 (Asia/Shanghai)" in excinfo.value.message
    assert "reject the run or open a deviation" in excinfo.value.message
    sr.refresh_from_db()
    assert sr.status == StageStatus.READY
    assert AuditEvent.objects.count() == events


def test_the_transplant_starts_before_the_expiry(released, recipient, technician):
    cb.formulate(recipient, released, technician, expires_at=cb.RELEASED_AT + 6 * H)

    sr = cb.start_transplant(released, technician, at=cb.RELEASED_AT + 6 * H - timedelta(seconds=1))

    assert sr.status == StageStatus.IN_PROGRESS


def test_an_expiry_already_past_is_refused(released, recipient, technician):
    with pytest.raises(ValidationFailed, match="already past"):
        cb.formulate(recipient, released, technician, expires_at=cb.RELEASED_AT - 3 * H)


# --- visits and values -------------------------------------------------------------------------


def test_visits_before_and_after_the_transplant(released, recipient, clinician, technician):
    baseline = cb.visit(recipient, released, clinician, date(2026, 3, 1), kind="baseline")
    with pytest.raises(ValidationFailed, match="the transplant has not started"):
        cb.visit(recipient, released, clinician, date(2026, 3, 20))
    cb.start_transplant(released, technician)  # 2026-03-06 in Shanghai

    with pytest.raises(
        ValidationFailed, match=r"a follow-up visit is after the transplant \(2026-03-06\)"
    ):
        cb.visit(recipient, released, clinician, date(2026, 3, 6))
    with pytest.raises(ValidationFailed, match="a baseline visit is before the transplant"):
        cb.visit(recipient, released, clinician, date(2026, 3, 7), kind="baseline")
    with pytest.raises(Conflict, match="already has a baseline visit"):
        cb.visit(recipient, released, clinician, date(2026, 3, 2), kind="baseline")
    follow = cb.visit(recipient, released, clinician, date(2026, 3, 13))

    assert baseline.kind == "baseline" and follow.kind == "follow_up"


def test_values_in_either_unit_system_are_stored_with_their_canonical_value(
    released, recipient, clinician
):
    v = cb.visit(
        recipient,
        released,
        clinician,
        date(2026, 3, 1),
        kind="baseline",
        values={
            "hba1c": (53, "mmol/mol"),
            "c_peptide_fasting": (0.5, "ng/mL"),
            "creatinine": (1.2, "mg/dL"),
            "fasting_insulin": (10, "µIU/mL"),
            "egfr": (1, "mL/s/1.73 m2"),
            "body_weight": (154, "lb"),
        },
    )

    canonical = {x.measure: (x.value, x.unit, round(x.value_canonical, 3)) for x in v.values.all()}
    assert canonical == {
        "hba1c": (53.0, "mmol/mol", round(53 / 10.929 + 2.15, 3)),
        "c_peptide_fasting": (0.5, "ng/mL", 165.5),
        "creatinine": (1.2, "mg/dL", 106.08),
        "fasting_insulin": (10.0, "uIU/mL", 60.0),
        "egfr": (1.0, "mL/s/1.73 m2", 60.0),
        "body_weight": (154.0, "lb", 69.853),
    }


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"measure": "c_peptide_fasting", "value": 0.5, "unit": "furlongs"},
            "unit",
            "unknown unit",
        ),
        ({"measure": "c_peptide_fasting", "value": 0.5, "unit": "mg/dL"}, "unit", "not a unit of"),
        ({"measure": "hba1c", "value": 45, "unit": "%"}, "value", "outside 3-20 %"),
        ({"measure": "severe_hypo_events", "value": 1.5, "unit": ""}, "value", "whole number"),
        ({"measure": "height", "value": 180}, "measure", "unknown measure"),
        ({"measure": "tbr70", "value": float("inf")}, "value", "finite"),
    ],
)
def test_bad_values_refuse_the_whole_batch(released, recipient, clinician, values, field, message):
    v = cb.visit(recipient, released, clinician, date(2026, 3, 1), kind="baseline")
    before = _counts()

    with pytest.raises(RowErrors) as excinfo:
        clinical.visit_values_record(
            visit=v, values=[{"measure": "tir", "value": 60}, values], actor=clinician
        )

    assert excinfo.value.rows[0]["index"] == 1
    assert excinfo.value.rows[0]["field"] == field
    assert message in excinfo.value.rows[0]["message"]
    assert _counts() == before


def test_a_correction_supersedes_with_a_reason(released, recipient, clinician):
    v = cb.visit(
        recipient, released, clinician, date(2026, 3, 1), "baseline", {"hba1c": (8.4, "%")}
    )
    old = v.values.get()

    new = clinical.visit_value_correct(
        value=old, new_value=8.6, unit="%", reason="lab re-issued the report", actor=clinician
    )

    assert (new.supersedes, new.value_canonical) == (old, 8.6)
    with pytest.raises(Conflict, match="already corrected"):
        clinical.visit_value_correct(value=old, new_value=9, unit="%", reason="x", actor=clinician)
    with pytest.raises(RowErrors, match="already recorded: correct it"):
        clinical.visit_values_record(
            visit=v, values=[{"measure": "hba1c", "value": 9}], actor=clinician
        )


def test_only_clinicians_and_reviewers_record_clinical_data(released, technician, clinician):
    with pytest.raises(NotPermitted):
        cb.recipient_of(released, technician)
    assert Recipient.objects.count() == 0


# --- CGM import ---------------------------------------------------------------------------------


def _export(days=14, **kw):
    start = cb.TRANSPLANT_AT + timedelta(days=60)
    return dexcom_export(start_utc=start, readings=288 * days, **kw)


def test_cgm_import_stores_the_metrics_as_the_visits_values(
    released, recipient, clinician, technician
):
    cb.start_transplant(released, technician)
    v = cb.visit(recipient, released, clinician, date(2026, 5, 20))

    record = clinical.cgm_import(
        visit=v,
        data=_export(),
        filename="clarity.csv",
        device_timezone="Asia/Shanghai",
        actor=clinician,
    )

    assert record.summary["readings"] == 4032
    assert record.metrics["tir"] == 83.33
    assert record.sha256_original != record.sha256_stored
    assert b"Person" not in record.file.read()
    values = {x.measure: x.value_canonical for x in v.values.filter(superseded_by__isnull=True)}
    assert values["tir"] == 83.33 and values["tbr54"] == 0.69 and values["wear"] == 100.0
    assert len(values) == 9

    again = clinical.cgm_import(
        visit=v,
        data=_export(days=15),
        filename="clarity-2.csv",
        device_timezone="Asia/Shanghai",
        actor=clinician,
    )
    tir = v.values.filter(measure="tir", superseded_by__isnull=True).get()
    assert tir.cgm_import == again and tir.supersedes.cgm_import == record
    assert tir.reason == "re-imported from clarity-2.csv"
    with pytest.raises(Conflict, match="already imported"):
        clinical.cgm_import(
            visit=v,
            data=_export(),
            filename="x.csv",
            device_timezone="Asia/Shanghai",
            actor=clinician,
        )


@pytest.mark.parametrize(
    ("data", "tz", "message"),
    [
        (b"Index,foo\n1,2\n", "Asia/Shanghai", "not a Dexcom Clarity or LibreView"),
        (None, "Nowhere/City", "unknown time zone"),
        (b"", "Asia/Shanghai", "empty"),
    ],
)
def test_a_refused_cgm_file_writes_nothing(
    released, recipient, clinician, technician, data, tz, message
):
    cb.start_transplant(released, technician)
    v = cb.visit(recipient, released, clinician, date(2026, 5, 20))
    before = _counts()

    with pytest.raises(ValidationFailed, match=message):
        clinical.cgm_import(
            visit=v,
            data=_export() if data is None else data,
            filename="f.csv",
            device_timezone=tz,
            actor=clinician,
        )

    assert _counts() == before


# --- the outcome picture -----------------------------------------------------------------------


def test_the_outcome_picture_follows_the_published_course(
    released, recipient, clinician, technician
):
    cb.formulate(recipient, released, technician)
    cb.visit(recipient, released, clinician, date(2026, 3, 1), "baseline", cb.baseline_values())
    cb.start_transplant(released, technician)  # day 0: 2026-03-06
    tx = date(2026, 3, 6)
    cb.visit(
        recipient,
        released,
        clinician,
        tx + timedelta(days=28),
        values={
            "hba1c": (7.4, "%"),
            "insulin_dose": (0.3, "U/kg/day"),
            "severe_hypo_events": (0, "count"),
            "c_peptide_fasting": (0.6, "ng/mL"),
            "oral_agents": (2, "count"),
        },
    )
    cb.visit(
        recipient,
        released,
        clinician,
        tx + timedelta(days=84),
        values={
            "hba1c": (6.3, "%"),
            "insulin_dose": (0, "U/kg/day"),
            "severe_hypo_events": (0, "count"),
            "c_peptide_fasting": (1.1, "ng/mL"),
            "oral_agents": (2, "count"),
            "egfr": (52, "mL/min/1.73 m2"),
        },
    )
    clinical.therapy_event_record(
        recipient=recipient,
        kind="insulin_stopped",
        on_date=tx + timedelta(days=77),
        actor=clinician,
    )

    picture = selectors.recipient_outcomes(recipient)

    assert picture["transplant_date"] == "2026-03-06"
    assert picture["insulin_free_since_day"] == 77
    assert [v["day"] for v in picture["visits"]] == [-5, 28, 84]
    classes = [v["assessments"]["igls_2018"]["outcome"] for v in picture["visits"][1:]]
    assert classes == ["marginal", "optimal"]
    day84 = picture["visits"][2]["assessments"]["igls_2018"]
    assert "eGFR 52" in day84["warnings"][0]
    assert day84["inputs"]["c_peptide_pmol_per_l"] == pytest.approx(364.1)
    assert picture["series"]["insulin_dose"] == [
        {"day": None, "value": 0.62},
        {"day": 28, "value": 0.3},
        {"day": 84, "value": 0.0},
    ]
    # The test protocol's follow-up visits are days 7 and 14; neither was kept (days 28, 84).
    assert [(s["day"], s["date"], s["visit"]) for s in picture["schedule"]] == [
        (7, "2026-03-13", None),
        (14, "2026-03-20", None),
    ]
    alt = {x["measure"]: x["alternate"] for x in picture["visits"][2]["values"]}
    assert alt["c_peptide_fasting"] == 364.1 and alt["hba1c"] == pytest.approx(45.4, abs=0.05)


def test_cohort_outcomes_take_a_fixed_number_of_queries(
    lab, technician, reviewer, clinician, django_assert_num_queries
):
    for _ in range(2):
        run = cb.released_run(lab, technician, reviewer)
        r = cb.recipient_of(run, clinician)
        cb.formulate(r, run, technician)
        cb.visit(r, run, clinician, date(2026, 3, 1), "baseline", cb.baseline_values())

    with django_assert_num_queries(11):
        two = selectors.cohort_outcomes(clinician)
    run = cb.released_run(lab, technician, reviewer)
    r = cb.recipient_of(run, clinician)
    cb.formulate(r, run, technician)
    cb.visit(r, run, clinician, date(2026, 3, 1), "baseline", cb.baseline_values())
    with django_assert_num_queries(11):
        three = selectors.cohort_outcomes(clinician)

    assert (len(two), len(three)) == (2, 3)
