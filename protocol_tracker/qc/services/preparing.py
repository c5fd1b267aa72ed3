"""Preparing a result: parse, convert and judge a value; where it may go; what it supersedes.

Nothing here writes. :func:`result_prepare` raises ``ValidationFailed`` with per-field errors;
:func:`result_placement` says whether the result may be recorded on its stage now and which
current result it supersedes (and why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.utils import timezone

from labs.models import CAN_WORK, Instrument
from labs.selectors import require_role
from protocol_tracker import specs
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    NotPermitted,
    ValidationFailed,
)
from protocol_tracker.equipment.selectors import instrument_calibration_problem
from protocol_tracker.protocols.models import CheckpointTemplate, RecordedBy, ValueType
from protocol_tracker.qc.models import QCResult, Verdict
from protocol_tracker.runs.models import Run, RunStatus, StageRun, StageStatus
from protocol_tracker.runs.selectors import post_release_stage_ids
from protocol_tracker.runs.services import WORKING_STAGE_STATUSES
from protocol_tracker.specs import units
from protocol_tracker.specs.judge import CheckpointJudge

MEASURED_AT_SKEW = timedelta(minutes=5)
RESULT_STATES = ("pending", "invalid")
_NUMERIC = frozenset({ValueType.NUMBER, ValueType.PERCENT})
# Results that may be superseded by a plain recording (rather than a correction), and why.
_REPLACEABLE: dict[str, str] = {
    Verdict.PENDING: "result of the pending test",
    Verdict.FAIL: "retest",
    Verdict.INVALID: "retest",
}


@dataclass
class Prepared:
    """A validated, judged result, not yet saved."""

    value_number: float | None
    value_bool: bool | None
    value_text: str
    unit: str
    value_in_spec_unit: float | None
    verdict: str
    measured_at: datetime
    state: str | None

    def fields(self) -> dict:
        return {
            "value_number": self.value_number,
            "value_bool": self.value_bool,
            "value_text": self.value_text,
            "unit": self.unit,
            "value_in_spec_unit": self.value_in_spec_unit,
            "verdict": self.verdict,
            "measured_at": self.measured_at,
        }


def result_prepare(
    *,
    checkpoint: CheckpointTemplate,
    value,
    unit: str | None,
    measured_at,
    state: str | None,
    now: datetime,
    judge: CheckpointJudge | None = None,
) -> Prepared:
    """Parse, convert and judge; raise ValidationFailed with per-field errors, writing nothing.

    ``judge`` (of this checkpoint) answers the common case faster, with the same outcome."""
    errors: dict[str, list[str]] = {}
    if state not in (None, *RESULT_STATES):
        errors["state"] = [f"state must be empty, 'pending' or 'invalid', not {state!r}"]
    if not isinstance(measured_at, datetime):
        errors["measured_at"] = ["a date and time is required"]
    elif timezone.is_naive(measured_at):
        errors["measured_at"] = ["give a time zone offset"]
    elif measured_at > now + MEASURED_AT_SKEW:
        errors["measured_at"] = ["is in the future"]
    if unit is not None and not isinstance(unit, str):
        errors["unit"] = [f"unit must be text, got {type(unit).__name__}"]
        unit = None

    vt = checkpoint.value_type
    numeric = vt in _NUMERIC
    unit_given = (unit or "").strip()
    stored_unit = (unit_given or checkpoint.unit) if numeric else ""
    if not numeric and unit_given:
        errors.setdefault("unit", []).append(f"a {vt} checkpoint takes no unit, got '{unit}'")
    parsed = None
    in_spec_unit = None
    verdict: str = Verdict.PENDING if state == "pending" else Verdict.INVALID
    if state == "pending":
        if value not in (None, ""):
            errors["value"] = ["a pending result has no value yet"]
    elif not (state == "invalid" and value in (None, "")):
        try:
            parsed = specs.parse_value(value, value_type=vt)
        except specs.SpecError as exc:
            errors["value"] = [str(exc)]
        judged = (
            judge.judge(parsed, stored_unit)
            if judge is not None and parsed is not None and state is None and not errors
            else None
        )
        if judged is not None:
            in_spec_unit, verdict = judged
        elif parsed is not None and numeric and "unit" not in errors:
            try:
                in_spec_unit = units.convert(
                    cast(float, parsed),
                    stored_unit,
                    checkpoint.unit,
                    analyte=checkpoint.analyte or None,
                )
            except units.UnitError as exc:
                errors["unit"] = [str(exc)]
        if judged is None and parsed is not None and state is None and not errors:
            try:
                verdict = specs.evaluate(
                    checkpoint.spec or None,
                    value_type=vt,
                    value=parsed,
                    unit=stored_unit if numeric else None,
                    spec_unit=checkpoint.unit,
                    analyte=checkpoint.analyte or None,
                )
            except units.UnitError as exc:
                errors["unit"] = [str(exc)]
            except specs.SpecError as exc:
                errors["value"] = [str(exc)]
    if errors:
        first = next(iter(errors.items()))
        raise ValidationFailed(f"{first[0]}: {first[1][0]}", fields=errors)
    return Prepared(
        value_number=float(parsed) if numeric and parsed is not None else None,
        value_bool=parsed if isinstance(parsed, bool) else None,
        value_text=parsed if isinstance(parsed, str) else "",
        unit=stored_unit,
        value_in_spec_unit=in_spec_unit,
        verdict=verdict,
        measured_at=measured_at,
        state=state,
    )


def spec_snapshot(checkpoint: CheckpointTemplate, run: Run) -> dict:
    return {
        "spec": checkpoint.spec,
        "unit": checkpoint.unit,
        "value_type": checkpoint.value_type,
        "blocking": checkpoint.blocking,
        "protocol_id": run.protocol_id,
        "protocol_version": run.protocol.version,
        "checkpoint_key": checkpoint.key,
        "source": checkpoint.source,
    }


def check_recorder(actor: Actor, lab_id: int, checkpoint: CheckpointTemplate) -> None:
    if isinstance(actor, Instrument):
        if actor.lab_id != lab_id or not actor.is_active:
            raise NotPermitted(f"instrument {actor.name} may not post results in this lab")
        if checkpoint.recorded_by not in (RecordedBy.INSTRUMENT, RecordedBy.ANY):
            raise NotPermitted(f"checkpoint '{checkpoint.name}' is recorded by people only")
        if not actor.may_post(checkpoint.assay):
            raise NotPermitted(f"instrument {actor.name} may not post '{checkpoint.assay}' results")
        refuse_lapsed_instrument(actor)
        return
    require_role(actor, lab_id, CAN_WORK, "record QC results")
    if checkpoint.recorded_by == RecordedBy.SYSTEM:
        raise NotPermitted(
            f"checkpoint '{checkpoint.name}' is computed from the run's records, not typed"
        )
    if checkpoint.recorded_by == RecordedBy.INSTRUMENT:
        raise NotPermitted(f"checkpoint '{checkpoint.name}' is recorded by instruments only")


def refuse_lapsed_instrument(instrument: Instrument) -> None:
    """A Conflict (409, ``calibration_lapsed``) naming the lapse when the equipment
    ``instrument`` is registered as is out of calibration or out of service: its results are
    refused until it is back in calibration."""
    problem = instrument_calibration_problem(instrument, now=timezone.now())
    if problem:
        raise Conflict(
            f"results of instrument {instrument.name} are refused: {problem}; record a passed "
            "calibration to post again",
            code="calibration_lapsed",
        )


def recorder_fields(actor: Actor) -> dict:
    if isinstance(actor, Instrument):
        return {"recorded_by": None, "recorded_by_instrument": actor}
    return {"recorded_by": actor, "recorded_by_instrument": None}


def idempotent_lookup(actor: Actor, key: str) -> QCResult | None:
    field = "recorded_by_instrument" if isinstance(actor, Instrument) else "recorded_by"
    return QCResult.objects.filter(**{field: actor, "idempotency_key": key}).first()


def _state_of(result: QCResult) -> str | None:
    return result.verdict if result.verdict in RESULT_STATES else None


def same_payload(
    existing: QCResult,
    *,
    stage_run_id: int,
    checkpoint_id: int,
    prepared: Prepared,
    comment: str,
    raw_file_id: int | None,
) -> bool:
    return (
        existing.stage_run_id == stage_run_id
        and existing.checkpoint_id == checkpoint_id
        and existing.value_number == prepared.value_number
        and existing.value_bool == prepared.value_bool
        and existing.value_text == prepared.value_text
        and existing.unit == prepared.unit
        and existing.measured_at == prepared.measured_at
        and _state_of(existing) == prepared.state
        and existing.comment == comment
        and existing.raw_file_id == raw_file_id
    )


def idempotency_mismatch(key: str) -> Conflict:
    return Conflict(
        f"idempotency key {key!r} was already used for a different result",
        code="idempotency_mismatch",
    )


def worked_after_release(run: Run, stage_run: StageRun) -> bool:
    """Is ``stage_run`` a post-release stage of a released run (one that still takes results)?
    Asks the database only about released runs."""
    return run.status == RunStatus.RELEASED and stage_run.stage_id in post_release_stage_ids(
        run.protocol
    )


def require_consent(run: Run, checkpoint: CheckpointTemplate) -> None:
    """A checkpoint that needs a consent scope (genetic testing, future use) takes no result
    for a donor who has not given it: nothing is tested or kept beyond the consent (ISSCR
    [R1]; reference §6.4 item 14)."""
    needed = checkpoint.requires_consent or []
    if not needed:
        return
    donor = run.donor
    given = set(donor.consent_scope or []) if donor.consent_given else set()
    missing = [scope for scope in needed if scope not in given]
    if missing:
        scopes = ", ".join(s.replace("_", " ") for s in missing)
        raise InvalidTransition(
            f"donor {donor.code} has not consented to {scopes}: '{checkpoint.name}' cannot be "
            "recorded (record the consent first)",
            code="consent_missing",
        )


def result_placement(
    *,
    run: Run,
    stage_run: StageRun,
    checkpoint: CheckpointTemplate,
    current: QCResult | None,
    prepared: Prepared,
    after_release: bool = False,
) -> tuple[QCResult | None, str]:
    """May this result be recorded here now, and what does it supersede (and why)?

    ``after_release``: ``stage_run`` is a post-release stage of the released ``run``; the usual
    stage rules apply to it."""
    require_consent(run, checkpoint)
    name = stage_run.stage.name
    awaited = current is not None and current.verdict in (Verdict.PENDING, Verdict.INVALID)
    if run.is_closed and not after_release:
        if not (
            run.status == RunStatus.RELEASED
            and checkpoint.key in (run.pending_tests or [])
            and awaited
        ):
            raise InvalidTransition(
                f"run {run.code} is {run.status}; results can no longer be recorded"
            )
    elif stage_run.status == StageStatus.COMPLETED:
        if not (awaited and checkpoint.pending_allowed):
            raise InvalidTransition(
                f"stage '{name}' is completed; results can no longer be recorded "
                f"(correct an existing result instead)"
            )
    elif stage_run.status not in WORKING_STAGE_STATUSES:
        raise InvalidTransition(
            f"stage '{name}' is {stage_run.status}; results are recorded while it is in progress"
        )
    if current is None:
        return None, ""
    if current.verdict == Verdict.PENDING and prepared.verdict == Verdict.PENDING:
        message = f"checkpoint '{checkpoint.name}' is already pending"
        raise ValidationFailed(message, code="already_recorded", fields={"state": [message]})
    if current.verdict in _REPLACEABLE:
        return current, _REPLACEABLE[current.verdict]
    message = (
        f"checkpoint '{checkpoint.name}' already has a result ({current.display_value}, "
        f"{current.verdict}); correct it instead of recording a second one"
    )
    raise ValidationFailed(message, code="already_recorded", fields={"checkpoint": [message]})


_STATE_FIELDS = (
    ("stage_run", "stage_run_id"),
    ("checkpoint", "checkpoint_id"),
    ("value_number", "value_number"),
    ("value_bool", "value_bool"),
    ("value_text", "value_text"),
    ("unit", "unit"),
    ("value_in_spec_unit", "value_in_spec_unit"),
    ("verdict", "verdict"),
    ("measured_at", "measured_at"),
    ("supersedes", "supersedes_id"),
    ("raw_file", "raw_file_id"),
    ("idempotency_key", "idempotency_key"),
    ("comment", "comment"),
)


def result_state(result: QCResult) -> dict:
    data = result.__dict__  # straight from the instance; a deferred field is loaded
    return {
        key: data[attname] if attname in data else getattr(result, attname)
        for key, attname in _STATE_FIELDS
    }
